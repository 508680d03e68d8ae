#!/usr/bin/env bash
# sync --report FILE.html against intune-emu, opened in headless Chromium (Debian's chromium):
# the page is self-contained (no network while it renders, no external reference), shows the
# totals on top, one block per user with the certificate, action and outcome, and the Graph
# request-id of the failed write. What it shows is read from Chromium's own rendering (PDF ->
# text) and its DOM.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ] || ! command -v pdftotext > /dev/null; then
    not_ok "chromium and pdftotext are installed (scripts/bootstrap --test installs them)"
    finish
    exit 1
fi
"$LAB_BIN" --out lab --users 10 --kras 1 --unknown-users 1 --revoked 2 --seed 31 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
check "the lab has a revoked certificate of a known user" \
    test -n "$(jq -r 'select(.userId != null and .revoked) | .file' lab/manifest.jsonl)"
# the first DELETE does not take: the remove of the revoked certificate fails
emu_start lab --quiet --fault 'DELETE:userPfxCertificates:1:1=noop' ||
    { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab sync.conf
m=lab/manifest.jsonl
n_up=$(jq -s '[.[] | select(.userId != null and (.revoked | not))] | length' $m)
rev_file=$(jq -r 'select(.userId != null and .revoked) | .file' $m | head -n 1)
rev_upn=$(jq -r 'select(.userId != null and .revoked) | .userPrincipalName' $m | head -n 1)
"$SSYNC_BIN" export --kra lab/kra.p12 --kra-pass-file lab/kra.pass \
    --connector-key lab/connector-public.rsa1blob --out-dir rev "lab/$rev_file" > /dev/null
check "the revoked certificate is in Intune" "$SSYNC_BIN" upload --config sync.conf rev

"$SSYNC_BIN" sync --config sync.conf --report report.html --json > sync.json 2> sync.err
check_eq "sync with a failed remove: exit status 3" 3 "$?"
check "the HTML report is written" test -s report.html
check "no external reference (src, href, url)" bash -c "! grep -Eqi 'src=|href=|url\\(|@import' report.html"
req=$(jq -r '.items[] | select(.outcome == "failed") | .requestId' sync.json)
check "the failure has a Graph request-id" test -n "$req"

chrome() {
    # no network at all: anything the page would fetch fails to resolve
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$T_TMP/chromium-profile" --host-resolver-rules='MAP * ~NOTFOUND' \
        "$@" "file://$T_TMP/report.html" 2>> chromium.err
}
chrome --dump-dom > dom.html
check "Chromium loads the page" grep -q '<table id="users">' dom.html
chrome --print-to-pdf="$T_TMP/report.pdf" --no-pdf-header-footer > /dev/null
check "Chromium renders the page" test -s report.pdf
pdftotext -layout report.pdf shown.txt
check_contains "the page shows its title" "smimesync sync report" shown.txt
# totals come first
first_total=$(grep -n "upload" shown.txt | head -n 1 | cut -d: -f1)
first_user=$(grep -n "$rev_upn" shown.txt | head -n 1 | cut -d: -f1)
check "the totals are above the per-user rows" test "$first_total" -lt "$first_user"
check_contains "the totals show the writes done" "<b>$n_up</b>writes done" dom.html
check_contains "the totals show the failure" "<b>1</b>failed" dom.html
check "the totals' labels are shown" grep -Eq 'upload +remove +keep +skip +failed +writes done' shown.txt
check_contains "the page shows the failed user" "$rev_upn" shown.txt
check_contains "the page shows the Graph request-id of the failure" "$req" shown.txt
# every user of the run has one block, with each certificate's thumbprint
n_users=$(jq -r '[.items[].userPrincipalName] | unique | length' sync.json)
check_eq "one block per user" "$n_users" "$(grep -o '<tbody class="user">' dom.html | wc -l)"
for tp in $(jq -r '.items[] | select(.action == "upload") | .thumbprint' sync.json); do
    grep -q "$tp" shown.txt || not_ok "thumbprint $tp not shown"
done
ok "every uploaded certificate's thumbprint is shown"
check_eq "the uploads are shown as done" "$n_up" "$(grep -o '<tr class="done">' dom.html | wc -l)"
check "no page error in Chromium" bash -c "! grep -q 'Uncaught\\|ERR_NAME_NOT_RESOLVED' chromium.err"
[ -n "${KEEP:-}" ] && cp -r "$T_TMP"/report.* "$T_TMP"/shown.txt "$KEEP"/
finish
