# Shared helpers for the integration scripts (sourced). Every check counts; the script ends
# with "N passed, N failed" and a non-zero status when anything failed.
set -uo pipefail

: "${SSYNC_BUILD:?SSYNC_BUILD must point at the build directory}"
: "${SSYNC_DATA:?SSYNC_DATA must point at tests/data}"
SSYNC_BIN=${SSYNC_BIN:-$SSYNC_BUILD/smimesync}
LAB_BIN=$SSYNC_BUILD/smimesync-lab
EMU_BIN=$SSYNC_BUILD/intune-emu

T_PASS=0
T_FAIL=0
T_TMP=$(mktemp -d /tmp/ssync-it-XXXXXX)
T_CLEANUP=()
t_cleanup() {
    local c
    for c in "${T_CLEANUP[@]}"; do eval "$c" || true; done
    rm -rf "$T_TMP"
}
trap t_cleanup EXIT

ok() { T_PASS=$((T_PASS + 1)); printf 'ok   %s\n' "$*"; }
not_ok() { T_FAIL=$((T_FAIL + 1)); printf 'FAIL %s\n' "$*"; }
# check "description" command...: passes when the command succeeds.
check() {
    local what=$1
    shift
    if "$@" >"$T_TMP/check.out" 2>&1; then ok "$what"; else
        not_ok "$what"
        sed 's/^/     | /' "$T_TMP/check.out" | head -n 20
    fi
}
# check_eq "description" expected actual
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: expected '$2', got '$3'"; fi
}
# check_contains "description" needle file
check_contains() {
    if grep -qF -- "$2" "$3"; then ok "$1"; else
        not_ok "$1: '$2' not in $3"
        sed 's/^/     | /' "$3" | head -n 10
    fi
}
finish() {
    echo "$T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
}

# The value of key=... in the reference vectors' expected.txt.
expected() { sed -n "s/^$1=//p" "$SSYNC_DATA/adcs-basic/expected.txt"; }
# SHA-256 of the `openssl rsa -modulus` line of a key (the vectors' user_modulus_sha256).
modulus_sha256() { openssl rsa -noout -modulus "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }
# Lowercase SHA-1 thumbprint of a PEM certificate.
thumbprint() { openssl x509 -noout -fingerprint -sha1 -in "$1" | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'; }

# emu PATH: the emulator's own endpoint /emu/PATH (records, stats, ...) for a lab in ./lab;
# route ROUTE: how many requests of ROUTE ("POST userPfxCertificates") it has answered. A test
# with another lab directory defines its own emu.
emu() { curl -s --cacert lab/tls/ca.pem "$EMU_URL/emu/$1"; }
route() { emu stats | jq -r --arg r "$1" '.byRoute[$r] // 0'; }

# emu_start LAB_DIR [extra intune-emu options...]: starts the emulator for a lab on a free
# loopback port; sets EMU_URL and EMU_PID; it is stopped when the script exits.
emu_start() {
    local lab=$1
    shift
    local out=$T_TMP/emu.$RANDOM
    "$EMU_BIN" --listen 127.0.0.1:0 --tls-cert "$lab/tls/server.pem" --tls-key "$lab/tls/server.key" \
        --tenant-id "$(cat "$lab/tenant-id")" --client-id "$(cat "$lab/client-id")" \
        --client-secret-file "$lab/client-secret" --client-cert "$lab/app.pem" \
        --connector-key "$lab/connector.key" --users "$lab/users.csv" --max-runtime 600 "$@" \
        > "$out.out" 2> "$out.err" &
    EMU_PID=$!
    T_CLEANUP+=("kill $EMU_PID 2>/dev/null; wait $EMU_PID 2>/dev/null")
    local i
    for i in $(seq 1 100); do
        if [ -s "$out.out" ]; then break; fi
        sleep 0.1
    done
    EMU_URL=$(head -n 1 "$out.out" | sed -n 's/^listening //p')
    if [ -z "$EMU_URL" ]; then
        echo "intune-emu did not start:" >&2
        cat "$out.err" >&2
        return 1
    fi
}

# write_config LAB_DIR FILE [auth]: a smimesync configuration for the lab and the running
# emulator; auth is "secret" (default) or "certificate".
write_config() {
    local lab=$1 file=$2 auth=${3:-secret}
    {
        echo "[source]"
        echo "type = blobs"
        echo "path = $lab/blobs"
        echo "ca = $lab/ca.pem"
        echo "crl = $lab/ca.crl"
        echo "[kra]"
        echo "key = $lab/kra.p12"
        echo "password_file = $lab/kra.pass"
        echo "[connector]"
        echo "public_key = $lab/connector-public.rsa1blob"
        echo "[intune]"
        echo "tenant_id = $(cat "$lab/tenant-id")"
        echo "client_id = $(cat "$lab/client-id")"
        if [ "$auth" = certificate ]; then
            echo "client_certificate = $lab/app.pem"
            echo "client_key = $lab/app.key"
        else
            echo "client_secret_file = $lab/client-secret"
        fi
        echo "authority = $EMU_URL"
        echo "graph = $EMU_URL"
        echo "ca_bundle = $lab/tls/ca.pem"
        echo "[state]"
        echo "path = $T_TMP/state.db"
    } > "$file"
}

# lab_tenant LAB_DIR FILE: a tenant description (intune-emu --tenant-config) where delivery is set
# up right for the lab: a PKCS imported profile (smimeEncryption) and a trusted root profile with
# the lab's CA per platform, all assigned to all users; an active, current connector that checked
# in a minute ago; Outlook's S/MIME switch on. Tests break one piece of it with jq.
lab_tenant() {
    local lab=$1 file=$2 now
    now=$(date -u -d '1 minute ago' +%Y-%m-%dT%H:%M:%SZ)
    jq -n --arg root "$(openssl x509 -in "$lab/ca.pem" -outform DER | base64 -w0)" --arg now "$now" '
      def all: [{target: {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}}];
      def pfx($i; $t): {id: "9e000000-0000-4000-8000-00000000000\($i)",
        "@odata.type": "#microsoft.graph.\($t)ImportedPFXCertificateProfile",
        displayName: "\($t) S/MIME", intendedPurpose: "smimeEncryption", assignments: all};
      def root($i; $t): {id: "9e000000-0000-4000-8000-00000000001\($i)",
        "@odata.type": "#microsoft.graph.\($t)TrustedRootCertificate",
        displayName: "\($t) root", trustedRootCertificate: $root, assignments: all};
      {deviceConfigurations: [pfx(1; "ios"), pfx(2; "macOS"), pfx(3; "windows10"),
                              pfx(4; "androidForWork"), root(1; "ios"), root(2; "macOS"),
                              root(3; "windows81"), root(4; "androidForWork")],
       ndesConnectors: [{id: "c1", machineName: "conn1", state: "active",
                         connectorVersion: "6.2406.0.1001", lastConnectionDateTime: $now}],
       certificateConnectorDetails: [{id: "c1", machineName: "conn1", connectorName: "conn1",
                                      connectorVersion: "6.2406.0.1001", lastCheckinDateTime: $now}],
       mobileAppConfigurations: [{id: "m1", "@odata.type": "#microsoft.graph.iosMobileAppConfiguration",
         displayName: "Outlook", settings: [{appConfigKey: "com.microsoft.outlook.Mail.SMIMEEnabled",
         appConfigKeyType: "booleanType", appConfigKeyValue: "true"}]}],
       managedDevices: []}' > "$file"
}
