# Shared by the bench scripts (sourced): process CPU and memory from /proc, medians,
# ratios. Expects $work to be the script's temp folder holding the proxies' configs.

# PIDs of a proxy started from $work (nginx: master and workers).
pids_of() {
  case $1 in
    haproxy) pgrep -f "haproxy -f $work" ;;
    sluice) pgrep -f "sluice run -c $work" ;;
    nginx) pgrep -f "nginx -c $work/nginx-proxy"; pgrep -P "$(pgrep -f "nginx -c $work/nginx-proxy" | head -1)" ;;
  esac
}
# user+sys clock ticks of all a proxy's processes.
ticks() { local t=0; for p in $(pids_of "$1"); do t=$(( t + $(awk '{print $14 + $15}' /proc/$p/stat) )); done; echo $t; }
# A /proc status field in KiB (VmRSS, VmHWM) summed over a proxy's processes.
kib() { local t=0; for p in $(pids_of "$1"); do t=$(( t + $(awk -v k="$2" '$1==k":" {print $2}' /proc/$p/status) )); done; echo $t; }
hz=$(getconf CLK_TCK)
# wrk/h2load durations (850us, 1.2ms, 2s) to milliseconds.
ms() { awk '{v=$1; if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.2f", $1 / $2; else print "-" }'; }
