#!/usr/bin/python3
"""Microsoft's own authentication library (Debian's python3-msal) signs in to intune-emu as it
would to Entra ID: instance discovery, the tenant's OpenID configuration, then a token with a
client secret, with a certificate (MSAL's RS256 assertion with x5t) and with a PS256 assertion
with x5t#S256 (made by MSAL's JwtAssertionCreator), each token then used on Graph.

usage: msal_client.py URL TENANT CLIENT SECRET_FILE APP_KEY APP_CERT CA_BUNDLE
Prints one line per check ("ok ..." or "FAIL ...") and exits 1 on any failure."""
import base64
import hashlib
import ssl
import sys

import msal
import requests
from msal.oauth2cli.assertion import JwtAssertionCreator

url, tenant, client, secret_file, app_key, app_cert, ca = sys.argv[1:8]
secret = open(secret_file).read().splitlines()[0]
key_pem = open(app_key).read()
der = ssl.PEM_cert_to_DER_cert(open(app_cert).read())
authority = f"{url}/{tenant}"
scopes = ["https://graph.microsoft.com/.default"]
failures = 0


def check(what, cond, detail=""):
    global failures
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else f": {detail}"))
    failures += 0 if cond else 1


def graph_with(token, what):
    r = requests.get(f"{url}/beta/deviceManagement/userPfxCertificates",
                     headers={"Authorization": f"Bearer {token}"}, verify=ca, timeout=10)
    check(f"{what}: Graph accepts MSAL's token", r.status_code == 200, r.text[:200])


def app_for(credential, discovery):
    # instance discovery at the emulator (MSAL asks login.microsoftonline.com for unknown hosts)
    return msal.ConfidentialClientApplication(client, client_credential=credential,
                                              authority=authority, verify=ca, timeout=10,
                                              instance_discovery=discovery)


# a client secret, with MSAL's instance discovery pointed at the emulator's
app = app_for(secret, f"{url}/common/discovery/instance")
check("openid configuration: token endpoint",
      app.authority.token_endpoint == f"{url}/{tenant}/oauth2/v2.0/token",
      app.authority.token_endpoint)
r = app.acquire_token_for_client(scopes=scopes)
check("client secret: token", "access_token" in r, r)
if "access_token" in r:
    graph_with(r["access_token"], "client secret")

# a certificate: MSAL's own RS256 assertion with x5t
thumb = hashlib.sha1(der).hexdigest()
r = app_for({"private_key": key_pem, "thumbprint": thumb}, False).acquire_token_for_client(scopes)
check("certificate (RS256, x5t): token", "access_token" in r, r)
if "access_token" in r:
    graph_with(r["access_token"], "certificate RS256")

# PS256 with x5t#S256, made by MSAL's assertion creator
x5t256 = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
creator = JwtAssertionCreator(key_pem, algorithm="PS256", headers={"x5t#S256": x5t256})
assertion = creator.create_normal_assertion(audience=f"{url}/{tenant}/oauth2/v2.0/token",
                                            issuer=client)
r = app_for({"client_assertion": assertion}, False).acquire_token_for_client(scopes)
check("certificate (PS256, x5t#S256): token", "access_token" in r, r)
if "access_token" in r:
    graph_with(r["access_token"], "certificate PS256")

# a wrong secret: MSAL returns Entra's error as Entra sends it
r = app_for("wrong-secret", False).acquire_token_for_client(scopes)
check("wrong secret: invalid_client", r.get("error") == "invalid_client", r)
check("wrong secret: AADSTS7000215", 7000215 in r.get("error_codes", []), r)

# an unknown tenant: the OpenID configuration is refused as Entra refuses it
try:
    msal.ConfidentialClientApplication(client, client_credential=secret,
                                       authority=f"{url}/99999999-2222-3333-4444-555555555555",
                                       verify=ca, timeout=10, instance_discovery=False)
    check("unknown tenant refused", False, "MSAL accepted the authority")
except ValueError as e:
    check("unknown tenant refused", "90002" in str(e) or "Unable to get authority" in str(e), e)

sys.exit(1 if failures else 0)
