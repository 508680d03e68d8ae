#!/usr/bin/env bash
# Secrets through systemd's LoadCredential=: the configuration names credential:NAME for the
# KRA key, its password and the client secret; smimesync reads them from $CREDENTIALS_DIRECTORY
# (as systemd lays it out: a directory of 0400 files) with the secret-file rules, and a sync
# succeeds. Outside systemd, a credential-only configuration says $CREDENTIALS_DIRECTORY is
# missing; a credential readable by others is refused like any secret file; check agrees.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 3 --kras 1 --revoked 0 --seed 73 > /dev/null
emu_start lab --quiet || { not_ok "emulator started"; finish; exit 1; }
write_config lab plain.conf
mkdir -m 0700 creds
cp lab/kra.p12 creds/kra.p12
cp lab/kra.pass creds/kra-password
cp lab/client-secret creds/graph-secret
chmod 0400 creds/*
sed -e 's|^key = .*|key = credential:kra.p12|' \
    -e 's|^password_file = .*|password_file = credential:kra-password|' \
    -e 's|^client_secret_file = .*|client_secret_file = credential:graph-secret|' plain.conf > cred.conf
check "the configuration names no secret file" sh -c "! grep -q 'lab/kra\|client-secret' cred.conf"

CREDENTIALS_DIRECTORY=$T_TMP/creds "$SSYNC_BIN" sync --config cred.conf --no-progress --json > s1.json 2> s1.err
check_eq "sync with every secret from \$CREDENTIALS_DIRECTORY: exit 0" 0 "$?"
check_eq "every record written" "$(jq '.writes.planned' s1.json)" "$(jq '.writes.done' s1.json)"
check "records written" test "$(jq '.writes.done' s1.json)" -gt 0

"$SSYNC_BIN" sync --config cred.conf --no-progress > s2.out 2> s2.err
check_eq "outside systemd: exit 1" 1 "$?"
check "outside systemd: names the line and what is missing" \
    grep -qE '^smimesync sync: .*cred.conf:[0-9]+: key .* \$CREDENTIALS_DIRECTORY is not set' s2.err

chmod 0444 creds/kra-password
CREDENTIALS_DIRECTORY=$T_TMP/creds "$SSYNC_BIN" sync --config cred.conf --no-progress > s3.out 2> s3.err
check "a credential readable by others is refused (exit non-zero)" test "$?" -ne 0
check "the refusal names the credential file" grep -q 'creds/kra-password' s3.err
check "no secret in the messages" sh -c "! grep -qF \"\$(cat lab/kra.pass)\" s2.err s3.err"
chmod 0400 creds/kra-password

CREDENTIALS_DIRECTORY=$T_TMP/creds "$SSYNC_BIN" check --config cred.conf --json > c.json 2> c.err
check_eq "check: the KRA key opens from the credentials" true \
    "$(jq '[.checks[] | select(.name | startswith("kra")) | .ok] | all' c.json)"
finish
