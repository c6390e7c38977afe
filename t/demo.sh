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
This build has the mail store and local delivery; the network services
come with later issues.  Deliver a message into demo's INBOX:

  printf 'From: you@example.org\nSubject: hello\n\nHi!\n' | \\
      $BIN/deliver -C $DIR -d demo -f you@example.org

and see where it landed and what the index says:

  ls $DIR/mail/demo/new/
  $BIN/zest -C $DIR dump demo

Read it with mutt:   mutt -f $DIR/mail/demo
Stop the instance:   $BIN/zest -C $DIR stop
EOT
