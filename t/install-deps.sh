#!/bin/sh
# SPDX-License-Identifier: ISC
# Install the Debian packages that building and testing Zest needs.  Run by
# `make check`; does nothing when everything is present or when not root.
set -e
PKGS="build-essential pkg-config clang lld libssl-dev libsasl2-dev libcdb-dev tinycdb
libcmocka-dev zlib1g-dev libdeflate-dev libcrypt-dev python3 mutt openssl procps util-linux
dovecot-core passwd time dnsmasq-base swaks libnet-ssleay-perl
libio-socket-ssl-perl postfix libsasl2-modules isync curl dovecot-imapd
dovecot-pop3d"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install)" >&2
	exit 0
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# postfix is there for smtp-source (tests) and as the benchmark's anchor, as
# dovecot-core is: configure nothing, and never start their services here.
echo "postfix postfix/main_mailer_type select No configuration" |
	debconf-set-selections

printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -q --no-install-recommends $missing >/dev/null
