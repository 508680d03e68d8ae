#!/usr/bin/env bash
# Secret hygiene: every command runs against the lab and intune-emu with known secrets (the KRA
# password, the client secret, the app's private key, the PKCS#12 passwords sync generates — read
# back by decrypting Intune's records with the connector key — and the access tokens), with debug
# logs in text and JSON, failures of every kind and reports; then every log line, report, error
# message and the journal are scanned: no secret may appear. sync, traced, writes no file but
# its journal and its report: no private key or password ever reaches the disk. (Under
# `make valgrind` the trace runs the binary itself, not the memcheck wrapper.)
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 8 --revoked 1 --seed 81 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --quiet --token-lifetime 30 --fault 'GET:users:3=expire' \
    --fault 'POST:userPfxCertificates:2=commit-500' || { not_ok "emulator"; finish; exit 1; }
write_config lab s.conf
printf '[log]\nlevel = debug\n' >> s.conf
mkdir out
S=$SSYNC_BIN
run() { # NAME ARGS...: one command, stdout and stderr kept
    local name=$1
    shift
    "$S" "$@" > "out/$name.out" 2> "out/$name.err"
    echo "$?" > "out/$name.rc"
}
run check check --config s.conf
run plan plan --config s.conf --verbose
run plan-json plan --config s.conf --json --log-format json --verbose
run sync sync --config s.conf --verbose --report out/sync-report.txt
run sync-json sync --config s.conf --json --log-format json --verbose --report out/sync.json
run status status --config s.conf --verbose
run recover recover --kra lab/kra.p12 --kra-pass-file lab/kra.pass --out out/u.p12 \
    --out-pass-file out/u.pass "lab/$(jq -r .file lab/manifest.jsonl | head -n 1)"
run export export --kra lab/kra.p12 --kra-pass-file lab/kra.pass \
    --connector-key lab/connector-public.rsa1blob --out-dir out/export \
    "lab/$(jq -r .file lab/manifest.jsonl | head -n 1)"
check_eq "sync ran" 0 "$(cat out/sync.rc)"
# failures: a wrong KRA password, a wrong client secret, certificate auth
printf 'not-the-kra-password\n' > wrong.pass && chmod 600 wrong.pass
sed "s|^password_file = .*|password_file = $T_TMP/wrong.pass|" s.conf > wrongkra.conf
run wrongkra sync --config wrongkra.conf --verbose
printf 'not-the-client-secret\n' > wrong.secret && chmod 600 wrong.secret
sed "s|^client_secret_file = .*|client_secret_file = $T_TMP/wrong.secret|" s.conf > wrongsecret.conf
run wrongsecret sync --config wrongsecret.conf --verbose --log-format json
write_config lab c.conf certificate
printf '[log]\nlevel = debug\n' >> c.conf
run certauth plan --config c.conf --verbose
check_eq "a wrong KRA password fails" 1 "$(cat out/wrongkra.rc)"
check_eq "a wrong client secret fails" 1 "$(cat out/wrongsecret.rc)"

# The secrets.
KRA_PASS=$(cat lab/kra.pass)
CLIENT_SECRET=$(cat lab/client-secret)
: > secrets.txt
printf '%s\n' "$KRA_PASS" "$CLIENT_SECRET" "not-the-kra-password" "not-the-client-secret" \
    >> secrets.txt
# the app key's base64 body lines
grep -v -- '-----' lab/app.key | head -n 3 >> secrets.txt
# PKCS#12 passwords of every record sync created: decrypt them with the connector key
curl -s --cacert lab/tls/ca.pem "$EMU_URL/emu/records" > records.json
n=$(jq '.records | length' records.json)
check "Intune holds records" test "$n" -gt 0
for i in $(seq 0 $((n - 1))); do
    pad=$(jq -r ".records[$i].paddingScheme" records.json | sed 's/oaepSha/sha/')
    jq -r ".records[$i].encryptedPfxPassword" records.json | base64 -d |
        openssl pkeyutl -decrypt -inkey lab/connector.key -pkeyopt rsa_padding_mode:oaep \
            -pkeyopt "rsa_oaep_md:$pad" -pkeyopt "rsa_mgf1_md:$pad" >> secrets.txt
    echo >> secrets.txt
    # a piece of each encrypted PKCS#12 too: it must not be kept in the journal or logs
    jq -r ".records[$i].encryptedPfxBlob" records.json | cut -c 200-260 >> secrets.txt
done
cat out/u.pass >> secrets.txt
echo >> secrets.txt
sed -i '/^$/d' secrets.txt
check "the secrets to look for: $(wc -l < secrets.txt)" test "$(wc -l < secrets.txt)" -ge $((n * 2 + 4))

# Everything smimesync printed or wrote, but the files whose job is to hold a secret
# (recover's 0600 PKCS#12 and password file, export's records).
sqlite3 state.db .dump > journal.sql
scan=(out/*.out out/*.err out/sync-report.txt out/sync.json journal.sql state.db reports/*)
check "the scan finds a secret where one belongs (recover's password file)" \
    grep -qaF -f secrets.txt out/u.pass
leaks=$(grep -aFo -f secrets.txt "${scan[@]}" | head -n 5)
check_eq "no secret in any log line, report, error message or the journal" "" "$leaks"
jwt=$(grep -aEo 'eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}' "${scan[@]}" | head -n 3)
check_eq "no access token (JWT) anywhere" "" "$jwt"
check_eq "no PEM private key anywhere" "" "$(grep -al 'PRIVATE KEY' "${scan[@]}")"
check "the debug logs were not empty" test "$(cat out/*.err | wc -l)" -gt 20
check_eq "recover's password file is 0600" 600 "$(stat -c %a out/u.pass)"
check_eq "recover's PKCS#12 is 0600" 600 "$(stat -c %a out/u.p12)"
check_eq "export's records are 0600" "600" "$(stat -c %a out/export/* | sort -u | tr '\n' ' ' | xargs)"

# sync writes no file but its journal (with its one-writer lock, which holds a pid) and its report.
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
rm -f state.db*
if strace -f -qq -e trace=open,openat,creat,rename,link -o trace.txt true 2> /dev/null; then
    strace -f -qq -e trace=open,openat,creat,rename,link -o trace.txt \
        "${SSYNC_REAL_BIN:-$S}" sync --config s.conf --report out/traced.json > /dev/null 2>&1
    check_eq "traced sync succeeded" "$n" \
        "$(curl -s --cacert lab/tls/ca.pem "$EMU_URL/emu/records" | jq .count)"
    grep -E 'O_WRONLY|O_RDWR|O_CREAT|creat\(|rename\(|link\(' trace.txt |
        grep -vE '= -1 |"/dev/(null|tty|urandom)"' |
        grep -oE '"[^"]*"' | sort -u |
        grep -vE "^\"($T_TMP/)?(state\.db(-journal|-wal|-shm|\.lock)?|out/\.?traced\.json(\.tmp\.[0-9.]*)?|reports/\.?sync-[0-9]+-[0-9TZ]+\.(json|txt)(\.tmp\.[0-9.]*)?)\"$" > written.txt
    check_eq "sync wrote only its journal and its report" "" "$(cat written.txt)"
else
    echo "skip: strace cannot trace here"
fi
finish
