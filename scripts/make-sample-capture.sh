#!/usr/bin/env bash
# Rebuilds samples/lab-mix.pcap from the traffic lab's captures (run models/training/lab/lab.sh first).
# Needs editcap and mergecap (Debian package wireshark-common / tshark).
set -euo pipefail
cd "$(dirname "$0")/.."
lab=lab-output
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
editcap -r "$lab/dos_syn_flood.pcap" "$tmp/syn-head.pcap" 1-3000
editcap -r "$lab/dos_http_flood.pcap" "$tmp/http-head.pcap" 1-4000
mergecap -F pcap -w samples/lab-mix.pcap \
  "$lab/benign_web_sessions.pcap" "$lab/benign_dns.pcap" "$lab/benign_ssh.pcap" "$lab/benign_ftp.pcap" \
  "$lab/portscan_syn.pcap" "$lab/portscan_udp.pcap" "$lab/brute_force_ssh.pcap" "$lab/web_attack.pcap" \
  "$lab/slow_dos_slowloris.pcap" "$tmp/syn-head.pcap" "$tmp/http-head.pcap"
echo "wrote samples/lab-mix.pcap"
