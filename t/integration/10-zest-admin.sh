#!/bin/sh
# SPDX-License-Identifier: ISC
# The zest admin tool end to end: init an instance, manage users and tables,
# start/status/stop.  Uses $ZEST_BIN/zest (set by t/run-integration.sh; by
# hand: ZEST_BIN=$PWD/build/bin sh t/integration/10-zest-admin.sh).
# Exit 0 pass, 1 fail.

: "${ZEST_BIN:?ZEST_BIN must name the directory holding zest}"
Z="$ZEST_BIN/zest"
T=$(mktemp -d "${TMPDIR:-/tmp}/zest-admin.XXXXXX") || exit 1
chmod 755 "$T"	# the mail and queue users must reach the instance
I="$T/inst"
trap 'rm -rf "$T"' EXIT INT TERM

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# run DESC CMD...: expect success
run() {
	desc=$1; shift
	if "$@" > "$T/out" 2> "$T/err"; then ok "$desc"
	else fail "$desc (exit $?): $(cat "$T/err")"; fi
}
# refuse DESC PATTERN CMD...: expect exit 1 and PATTERN on stderr
refuse() {
	desc=$1 pat=$2; shift 2
	"$@" > "$T/out" 2> "$T/err"
	rc=$?
	if [ $rc = 1 ] && grep -q -- "$pat" "$T/err"; then ok "$desc"
	else fail "$desc (exit $rc): $(cat "$T/err")"; fi
}
# has DESC FILE PATTERN: FILE contains PATTERN
has() {
	if grep -q -- "$3" "$2"; then ok "$1"; else fail "$1: no '$3' in $2"; fi
}

if [ "$(id -u)" = 0 ]; then owner=zest-vmail; else owner=$(id -un); fi

# --- init ---
run "init" "$Z" init "$I" --port-base 20000 --domain test.example \
	--hostname mx.test.example
has "conf port_base" "$I/zest.conf" "^port_base = 20000$"
has "conf domain" "$I/zest.conf" "^domain = test.example$"
has "conf hostname" "$I/zest.conf" "^hostname = mx.test.example$"
has "domains table" "$I/tables/domains" "^test.example$"
for t in users aliases domains routes relay-clients; do
	[ -f "$I/tables/$t.cdb" ] || fail "no tables/$t.cdb"
done
for d in mail queue run log tls; do
	[ -d "$I/$d" ] || fail "no $d/"
done
[ "$(stat -c %a "$I/tls/key.pem")" = 600 ] || fail "key mode"
[ -s "$I/tls/cert.pem" ] || fail "no certificate"
if command -v openssl > /dev/null; then
	openssl x509 -in "$I/tls/cert.pem" -noout -text > "$T/cert" 2>&1
	has "cert SAN" "$T/cert" "DNS:mx.test.example, DNS:localhost, IP Address:127.0.0.1"
	has "cert CN" "$T/cert" "Subject: CN *= *mx.test.example"
fi
refuse "init into a non-empty dir" "not empty" "$Z" init "$I"
refuse "init bad port base" "invalid port base" "$Z" init "$T/x" --port-base 65000
refuse "init bad domain" "invalid domain" "$Z" init "$T/y" --domain "a b"
refuse "init without dir" "usage" "$Z" init

# --- users ---
run "useradd alice" "$Z" -C "$I" useradd alice pw-alice
run "useradd bob" "$Z" -C "$I" useradd bob pw-bob
refuse "duplicate useradd" "already exists" "$Z" -C "$I" useradd alice other
refuse "bad user name" "invalid user name" "$Z" -C "$I" useradd Bad pw
refuse "useradd usage" "usage" "$Z" -C "$I" useradd carol
echo "pw-carol" > "$T/pw"
run "useradd from stdin" "$Z" -C "$I" useradd carol - < "$T/pw"
for u in alice bob carol; do
	for s in tmp new cur; do
		[ -d "$I/mail/$u/$s" ] || fail "no $u Maildir $s"
	done
	[ "$(stat -c %a "$I/mail/$u")" = 700 ] || fail "$u Maildir mode"
	[ "$(stat -c %U "$I/mail/$u/new")" = "$owner" ] ||
		fail "$u Maildir owner $(stat -c %U "$I/mail/$u/new")"
done
[ "$(grep -c '^alice ' "$I/tables/users")" = 1 ] || fail "alice twice"
"$Z" -C "$I" users > "$T/users" || fail "users"
has "users lists alice" "$T/users" "^alice [0-9]* [0-9]* $I/mail/alice$"
has "users lists bob" "$T/users" "^bob "
if grep -q '\$' "$T/users"; then fail "users shows hashes"; fi

old=$(grep '^alice ' "$I/tables/users")
run "passwd" "$Z" -C "$I" passwd alice new-pw
new=$(grep '^alice ' "$I/tables/users")
[ "$old" != "$new" ] || fail "passwd left the hash"
[ "${old#* * }" = "${new#* * }" ] || fail "passwd changed uid/gid/maildir"
refuse "passwd unknown" "no such user" "$Z" -C "$I" passwd nobody pw

run "userdel bob" "$Z" -C "$I" userdel bob
has "userdel says Maildir stays" "$T/out" "left in place"
[ -d "$I/mail/bob/new" ] || fail "userdel removed the Maildir"
refuse "userdel again" "no such user" "$Z" -C "$I" userdel bob
"$Z" -C "$I" users > "$T/users"
if grep -q '^bob ' "$T/users"; then fail "bob still listed"; fi

# concurrent useradds all land (tables/users.lock)
pids=""
for n in 1 2 3 4 5 6; do
	"$Z" -C "$I" useradd "u$n" "pw$n" > /dev/null 2>&1 &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "concurrent useradd"; done
"$Z" -C "$I" users > "$T/users"
[ "$(grep -c '^u[1-6] ' "$T/users")" = 6 ] || fail "concurrent useradds lost"

# --- tables ---
printf 'postmaster alice\nAbuse alice, carol\n' >> "$I/tables/aliases"
run "makemap by name" "$Z" -C "$I" makemap aliases
run "makemap by path" "$Z" makemap "$I/tables/aliases"
printf 'abuse bob\n' >> "$I/tables/aliases"
refuse "makemap duplicate" "aliases:5: duplicate key 'abuse'" \
	"$Z" -C "$I" makemap aliases
refuse "makemap missing" "No such file" "$Z" makemap "$T/nonexistent"

# --- services ---
run "status stopped" "$Z" -C "$I" status
has "status dir" "$T/out" "^instance: $I$"
has "status port base" "$T/out" "^port base: 20000$"
has "status users" "$T/out" "^users: 8$"
has "status state" "$T/out" "^state: stopped$"
# fix the aliases table so start finds the instance in order
sed -i '/^abuse bob$/d' "$I/tables/aliases"
"$Z" -C "$I" makemap aliases > /dev/null || fail "makemap again"
run "start" "$Z" -C "$I" start
has "start says what it did" "$T/out" "^zest: \(started\|nothing to start\)$"
run "status started" "$Z" -C "$I" status
has "status state" "$T/out" "^state: "
run "start again" "$Z" -C "$I" start
run "stop" "$Z" -C "$I" stop
run "status after stop" "$Z" -C "$I" status
has "status stopped again" "$T/out" "^state: stopped$"
mv "$I/tls/key.pem" "$T/key.pem"
refuse "start with a missing key" "tls_key" "$Z" -C "$I" start

refuse "unknown command" "unknown command" "$Z" -C "$I" frobnicate
refuse "missing instance" "No such file" "$Z" -C "$T/none" status

if [ "$fails" != 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "all passed"
exit 0
