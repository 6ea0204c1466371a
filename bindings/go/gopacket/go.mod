module netring/gopacket

go 1.19

require (
	github.com/google/gopacket v1.1.19
	netring v0.0.0
)

replace netring => ../

// gopacket from Debian's golang-github-google-gopacket-dev (no module proxy needed).
replace github.com/google/gopacket => /usr/share/gocode/src/github.com/google/gopacket
