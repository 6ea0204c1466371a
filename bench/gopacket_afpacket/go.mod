module netring-bench/gopacket_afpacket

go 1.19

require (
	github.com/google/gopacket v1.1.19
	golang.org/x/net v0.7.0
	golang.org/x/sys v0.5.0
)

// Debian's packages (golang-github-google-gopacket-dev, golang-golang-x-net-dev,
// golang-golang-x-sys-dev): no module proxy needed.
replace (
	github.com/google/gopacket => /usr/share/gocode/src/github.com/google/gopacket
	golang.org/x/net => /usr/share/gocode/src/golang.org/x/net
	golang.org/x/sys => /usr/share/gocode/src/golang.org/x/sys
)
