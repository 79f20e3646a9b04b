# Progress lines for the builds from the Go module proxy (sourced by build-control-plane.sh and
# build-helm.sh): which step of how many, how far, and the time since the build started. A cold
# build takes minutes on a small machine; without these it would print one line and then nothing.
# The caller sets `label` (the line's prefix) and `steps` (how many steps there are).

build_start=$SECONDS
step_n=0
# How often a long step says how far it is, in seconds.
progress_every=${KUBEUSERS_BUILD_PROGRESS_SECONDS:-15}

elapsed() { local s=$((SECONDS - build_start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# step "what this step does": the next step's header line.
step() {
  step_n=$((step_n + 1))
  echo "$label: [$step_n/$steps] $1 ($(elapsed) so far)"
}

# count_downloads: reads the go command's stderr and says every few seconds how many modules it
# has fetched; anything else the go command printed (an error) is passed through.
count_downloads() {
  local n=0 last=$SECONDS line
  while IFS= read -r line; do
    case $line in
      'go: downloading '*) n=$((n + 1)) ;;
      'go: finding module '* | 'go: found '*) ;;
      *) echo "$line" >&2 ;;
    esac
    if ((SECONDS - last >= progress_every)); then
      echo "$label: [$step_n/$steps]   $n modules downloaded ($(elapsed))"
      last=$SECONDS
    fi
  done
  echo "$label: [$step_n/$steps]   $n modules downloaded ($(elapsed))"
}

# count_packages TOTAL: reads `go build -v` (one package name per line, as each is compiled) and
# says every few seconds how many of TOTAL are done; compiler errors are passed through. Packages
# the Go build cache already holds are not printed, so a warm build ends below 100%.
count_packages() {
  local total=$1 n=0 last=$SECONDS line
  while IFS= read -r line; do
    case $line in
      '' | '#'* | *' '* | *:*) echo "$line" >&2; continue ;;
    esac
    n=$((n + 1))
    if ((SECONDS - last >= progress_every)); then
      echo "$label: [$step_n/$steps]   $n/$total packages compiled ($((100 * n / total))%, $(elapsed))"
      last=$SECONDS
    fi
  done
  if ((n < total)); then
    echo "$label: [$step_n/$steps]   $n/$total packages compiled, the rest from the Go build cache ($(elapsed))"
  else
    echo "$label: [$step_n/$steps]   $n/$total packages compiled ($(elapsed))"
  fi
}
