#!/bin/sh
# integration.router_symbols: a router program links its own router library
# and never another router's (docs/ARCHITECTURE.md, "Folders and libraries").
# Usage: test_router_symbols.sh NM XFTP_SERVER LIBSX_ROUTER SMP_SERVER LIBSX_XFTP_ROUTER
# Fails when XFTP_SERVER defines a global symbol that LIBSX_ROUTER defines,
# or SMP_SERVER one that LIBSX_XFTP_ROUTER defines. Each program must define
# symbols of its own library, so that an unreadable or stripped binary does
# not pass unnoticed.
set -eu

nm_tool=$1
xftp_bin=$2
smp_lib=$3
smp_bin=$4
xftp_lib=$5

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Global symbols defined by a binary or archive, one per line, sorted.
defined() {
  "$nm_tool" --defined-only -g "$1" | awk 'NF >= 3 { print $NF }' | sort -u
}

defined "$smp_lib" >"$tmp/smp_lib"
defined "$xftp_lib" >"$tmp/xftp_lib"
defined "$smp_bin" >"$tmp/smp_bin"
defined "$xftp_bin" >"$tmp/xftp_bin"

fail=0
for f in smp_lib xftp_lib smp_bin xftp_bin; do
  if [ ! -s "$tmp/$f" ]; then
    echo "FAIL: no defined symbols found in $f"
    fail=1
  fi
done

check() { # program, its symbols, the other router's library symbols, label
  comm -12 "$2" "$3" >"$tmp/both"
  n=$(wc -l <"$tmp/both")
  if [ "$n" -ne 0 ]; then
    echo "FAIL: $1 carries $n symbol(s) of $4:"
    head -n 40 "$tmp/both" | sed 's/^/  /'
    fail=1
  fi
}
check "$xftp_bin" "$tmp/xftp_bin" "$tmp/smp_lib" "the SMP router library (sx_smp_router)"
check "$smp_bin" "$tmp/smp_bin" "$tmp/xftp_lib" "the XFTP router library (sx_xftp_router)"

# Each program does carry its own router library.
own() { # program, its symbols, its library's symbols
  if [ -z "$(comm -12 "$2" "$3" | head -n 1)" ]; then
    echo "FAIL: $1 defines no symbol of its own router library"
    fail=1
  fi
}
own "$smp_bin" "$tmp/smp_bin" "$tmp/smp_lib"
own "$xftp_bin" "$tmp/xftp_bin" "$tmp/xftp_lib"

if [ "$fail" -ne 0 ]; then
  exit 1
fi
echo "ok: xftp-server has none of $(wc -l <"$tmp/smp_lib") sx_smp_router symbols," \
     "smp-server none of $(wc -l <"$tmp/xftp_lib") sx_xftp_router symbols"
