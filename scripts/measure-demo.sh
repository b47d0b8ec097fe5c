#!/usr/bin/env bash
# Prints the demo's time to first frame, idle CPU and memory after a minute (release binary, under tmux).
# Run `cargo build --release` first.
# time to first frame, idle CPU and RSS after 60s of the release demo at 80x24 and 160x48
BIN="$(cd "$(dirname "$0")/.." && pwd)/target/release/rollout-console"
for size in "80 24" "160 48"; do
  set -- $size
  sock=measure-$1
  tmux -L $sock kill-server 2>/dev/null
  start=$(date +%s%N)
  tmux -L $sock new-session -d -s m -x $1 -y $2 "XDG_DATA_HOME=/tmp/m-data XDG_STATE_HOME=/tmp/m-state $BIN demo --seed 1 --speed 1"
  until tmux -L $sock capture-pane -p -t m | grep -q 'step 1/4'; do sleep 0.01; done
  end=$(date +%s%N)
  echo "${1}x${2}: first frame after $(( (end-start)/1000000 )) ms (tmux session start included)"
  pid=$(pgrep -f "^$BIN demo --seed 1" | head -1); echo "  pid $pid: $(tr "\0" " " < /proc/$pid/cmdline)"
  sleep 60
  t0=$(awk '{print $14+$15}' /proc/$pid/stat); sleep 30; t1=$(awk '{print $14+$15}' /proc/$pid/stat)
  ticks=$(getconf CLK_TCK)
  echo "  idle CPU over 30s after a minute: $(python3 -c "print(f'{($t1-$t0)/$ticks/30*100:.2f}%')")"
  echo "  RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MiB"}'), HWM: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
  tmux -L $sock kill-server
done
