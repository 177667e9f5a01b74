# What benchmarks/run and benchmarks/watch share; sourced, not run.

# median: the median of the numbers on standard input, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# bridges_with_taps BRIDGES TAPS: ip -batch lines for BRIDGES bridges br<b>, each with TAPS taps t<b>-<t>.
bridges_with_taps() {
    local b t
    for b in $(seq "$1"); do
        echo "link add br$b type bridge"
        for t in $(seq "$2"); do
            echo "tuntap add dev t$b-$t mode tap"
            echo "link set t$b-$t master br$b"
        done
    done
}
