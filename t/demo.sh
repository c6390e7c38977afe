#!/bin/sh
# SPDX-License-Identifier: ISC
# `make run`: a demo instance under ./run (port base 10000, user demo with
# password demo), started, with what to type next.
set -e
BUILD=${1:-build}
BIN=$(cd "$BUILD/bin" && pwd)
DIR=$(pwd)/run
if [ ! -f "$DIR/zest.conf" ]; then
	[ -d "$DIR" ] && rmdir "$DIR" 2>/dev/null || true
	"$BIN/zest" init "$DIR" --port-base 10000
	"$BIN/zest" -C "$DIR" useradd demo demo
fi
"$BIN/zest" -C "$DIR" start
cat <<EOT

The demo instance is in $DIR (user demo, password demo).
SMTP listens on 127.0.0.1:10025, IMAP on 10143 (10993 TLS), POP3 on
10110 (10995 TLS).  Send demo a message:

  swaks --server 127.0.0.1:10025 --to demo@localhost
  python3 -c 'import smtplib; smtplib.SMTP("127.0.0.1", 10025).sendmail(
      "you@example.org", ["demo@localhost"], "Subject: hello\r\n\r\nHi!\r\n")'
  echo 'Hi!' | $BIN/sendmail -C $DIR demo        # the sendmail way

or deliver straight into the Maildir, as another MTA would:

  printf 'From: you@example.org\nSubject: hello\n\nHi!\n' | \\
      $BIN/deliver -C $DIR -d demo -f you@example.org

and see where it landed and what the index says:

  ls $DIR/mail/demo/new/
  $BIN/zest -C $DIR dump demo

Read it over IMAP or POP3 (plaintext is fine from this host):

  curl -s --user demo:demo 'imap://127.0.0.1:10143/INBOX;UID=1'
  curl -s --user demo:demo pop3://127.0.0.1:10110/1
  mutt -f imap://demo@127.0.0.1:10143/INBOX
  openssl s_client -quiet -connect 127.0.0.1:10993    # IMAP over TLS

Read the Maildir itself with mutt:   mutt -f $DIR/mail/demo
The queue:           $BIN/zest -C $DIR queue
Stop the instance:   $BIN/zest -C $DIR stop
EOT
