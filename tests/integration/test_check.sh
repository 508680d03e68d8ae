#!/usr/bin/env bash
# smimesync check against intune-emu: a good configuration passes every check (exit 0); each bad
# piece gives its own FAIL line (or WARN) and exit 1: unloadable configuration, wrong KRA
# password, a KRA that is not the archive's, a 1024-bit connector key, a missing source
# directory, an unwritable journal path, a wrong client secret, and each missing application
# permission (the emulator's --roles).
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 3 --seed 41 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
lab_tenant lab tenant.json
emu_start lab --quiet --tenant-config tenant.json || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab good.conf
chk() { "$SSYNC_BIN" check --config "$@"; }
# line NAME FILE: the level of check NAME in a table
level() { sed -n "s/^\([A-Za-z]*\) *$1: .*/\1/p" "$2" | head -n 1; }

# 1. all good
chk good.conf > good.txt 2> good.err
check_eq "good: exit 0" 0 "$?"
check_eq "good: no FAIL, WARN or SKIP line" 0 "$(grep -cE '^(FAIL|WARN|SKIP)' good.txt)"
for name in config "kra kra.p12" "connector key" "crl ca.crl" source "sample recovery" state \
    token "permission User.Read.All" \
    "permission DeviceManagementConfiguration.ReadWrite.All (read)" \
    "permission DeviceManagementConfiguration.ReadWrite.All (write)"; do
    check_eq "good: $name ok" ok "$(level "$name" good.txt)"
done
check_contains "good: the KRA's serial and expiry" "valid until" good.txt
check_contains "good: the number of blobs" "3 recovery blobs" good.txt
chk good.conf --json > good.json
check_eq "good --json: exit 0" 0 "$?"
check_eq "good --json: every check ok" "$(jq '.checks | length' good.json)" \
    "$(jq '[.checks[] | select(.ok)] | length' good.json)"
check_eq "good --json: ok" true "$(jq .ok good.json)"
check_eq "check wrote nothing to Intune" 0 "$(curl -s --cacert lab/tls/ca.pem "$EMU_URL/emu/records" | jq .count)"

# bad NAME FILE SED-EXPR: a variant of good.conf
variant() { sed "$2" good.conf > "$1"; }

# 2. configuration that does not load
printf '[source]\nbogus = 1\n' > broken.conf
chk broken.conf > broken.txt 2>&1
check_eq "broken config: exit 1" 1 "$?"
check_eq "broken config: FAIL config" FAIL "$(level config broken.txt)"
check_contains "broken config: names the key" "bogus" broken.txt

# 3. wrong KRA password: the key fails, the sample recovery cannot be tried
printf 'not-the-password\n' > wrong.pass && chmod 600 wrong.pass
variant wrongpass.conf "s|^password_file = .*|password_file = $T_TMP/wrong.pass|"
chk wrongpass.conf > wrongpass.txt 2>&1
check_eq "wrong KRA password: exit 1" 1 "$?"
check_eq "wrong KRA password: FAIL kra" FAIL "$(level "kra kra.p12" wrongpass.txt)"
check_contains "wrong KRA password: said" "wrong KRA password" wrongpass.txt
check_eq "wrong KRA password: sample recovery skipped" SKIP "$(level "sample recovery" wrongpass.txt)"
check_eq "wrong KRA password: the rest still checked" ok "$(level token wrongpass.txt)"
check "wrong KRA password: the password is not printed" bash -c '! grep -q not-the-password wrongpass.txt'

# 4. a KRA that the archive was not encrypted to, expiring soon: WARN on it, FAIL on the sample
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 10 \
    -subj "/CN=Other KRA" > /dev/null 2>&1
cat other.key other.pem > other-kra.pem && chmod 600 other-kra.pem
variant otherkra.conf "s|^key = .*|key = $T_TMP/other-kra.pem|"
chk otherkra.conf > otherkra.txt 2>&1
check_eq "other KRA: exit 1" 1 "$?"
check_eq "other KRA: WARN about its expiry" WARN "$(level "kra other-kra.pem" otherkra.txt)"
check_contains "other KRA: days left" "expires in" otherkra.txt
check_eq "other KRA: FAIL sample recovery" FAIL "$(level "sample recovery" otherkra.txt)"
check_contains "other KRA: names the KRA needed" "no held KRA key can open" otherkra.txt
# both KRAs: the right one recovers, the warning alone does not fail
variant twokras.conf "s|^key = .*|key = $T_TMP/lab/kra.p12, $T_TMP/other-kra.pem|"
chk twokras.conf > twokras.txt 2>&1
check_eq "a warning only: exit 0" 0 "$?"
check_eq "a warning only: sample recovery ok" ok "$(level "sample recovery" twokras.txt)"

# 5. 1024-bit connector key
openssl genrsa -out weak.key 1024 > /dev/null 2>&1
openssl rsa -in weak.key -pubout -out weak.pem > /dev/null 2>&1
variant weak.conf "s|^public_key = .*|public_key = $T_TMP/weak.pem|"
chk weak.conf > weak.txt 2>&1
check_eq "weak connector key: exit 1" 1 "$?"
check_eq "weak connector key: FAIL" FAIL "$(level "connector key" weak.txt)"
check_contains "weak connector key: said" "shorter than 2048 bits" weak.txt

# 6. missing source directory
variant nosrc.conf "s|^path = $T_TMP/lab/blobs|path = $T_TMP/no-such-dir|; s|^path = lab/blobs|path = $T_TMP/no-such-dir|"
chk nosrc.conf > nosrc.txt 2>&1
check_eq "missing source: exit 1" 1 "$?"
check_eq "missing source: FAIL source" FAIL "$(level source nosrc.txt)"
check_contains "missing source: names the directory" "no-such-dir" nosrc.txt

# 7. journal in a directory that does not exist
variant nostate.conf "s|^path = $T_TMP/state.db|path = $T_TMP/missing/dir/state.db|"
chk nostate.conf > nostate.txt 2>&1
check_eq "unwritable state: exit 1" 1 "$?"
check_eq "unwritable state: FAIL state" FAIL "$(level state nostate.txt)"

# 8. wrong client secret: the token fails with Entra's code and a hint; permissions untested
printf 'wrong-secret\n' > wrong.secret && chmod 600 wrong.secret
variant badsecret.conf "s|^client_secret_file = .*|client_secret_file = $T_TMP/wrong.secret|"
chk badsecret.conf > badsecret.txt 2>&1
check_eq "wrong secret: exit 1" 1 "$?"
check_eq "wrong secret: FAIL token" FAIL "$(level token badsecret.txt)"
check_contains "wrong secret: Entra's code" "AADSTS7000215" badsecret.txt
check_contains "wrong secret: a hint" "client secret is wrong or expired" badsecret.txt
check_eq "wrong secret: permissions not tested" SKIP "$(level "permission User.Read.All" badsecret.txt)"
check "wrong secret: the secret is not printed" bash -c '! grep -q wrong-secret badsecret.txt'

# 9. missing application permissions (a second emulator per role set)
roles_case() { # ROLES: starts an emulator with those roles, runs check, leaves roles.txt
    kill "$EMU_PID" 2> /dev/null
    wait "$EMU_PID" 2> /dev/null
    emu_start lab --quiet --roles "$1" || return 1
    write_config lab roles.conf
    chk roles.conf > roles.txt 2>&1
}
roles_case DeviceManagementConfiguration.ReadWrite.All
check_eq "no User.Read.All: exit 1" 1 "$?"
check_eq "no User.Read.All: FAIL" FAIL "$(level "permission User.Read.All" roles.txt)"
check_contains "no User.Read.All: named" "User.Read.All missing" roles.txt
check_eq "no User.Read.All: Intune read ok" ok \
    "$(level "permission DeviceManagementConfiguration.ReadWrite.All (read)" roles.txt)"
roles_case User.Read.All
check_eq "no DeviceManagementConfiguration role: exit 1" 1 "$?"
check_eq "no DeviceManagementConfiguration role: read FAIL" FAIL \
    "$(level "permission DeviceManagementConfiguration.ReadWrite.All (read)" roles.txt)"
check_contains "no DeviceManagementConfiguration role: named" \
    "DeviceManagementConfiguration.ReadWrite.All missing" roles.txt
check_eq "no DeviceManagementConfiguration role: users ok" ok \
    "$(level "permission User.Read.All" roles.txt)"
roles_case User.Read.All,DeviceManagementConfiguration.Read.All
check_eq "Read.All only: exit 1" 1 "$?"
check_eq "Read.All only: read ok" ok \
    "$(level "permission DeviceManagementConfiguration.ReadWrite.All (read)" roles.txt)"
check_eq "Read.All only: write FAIL" FAIL \
    "$(level "permission DeviceManagementConfiguration.ReadWrite.All (write)" roles.txt)"
"$SSYNC_BIN" check --config roles.conf --json > roles.json 2> /dev/null
check_eq "Read.All only --json: the failed check" \
    "permission DeviceManagementConfiguration.ReadWrite.All (write)" \
    "$(jq -r '.checks[] | select(.level == "failed") | .name' roles.json)"

"$SSYNC_BIN" check > /dev/null 2>&1
check_eq "no --config: exit 2" 2 "$?"
finish
