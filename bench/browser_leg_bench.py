"""CPU per packet of a browser's leg: SRTP (libsrtp) and Opus (libopus through PyAV) at its socket. A script, not
a test.

    .venv/bin/python bench/browser_leg_bench.py                 # 3000 packets (60 s of one direction)
    .venv/bin/python bench/browser_leg_bench.py --packets 10000
    .venv/bin/python bench/browser_leg_bench.py --complexity 10     # libopus's own default

Each step is timed over the same 20 ms packets of a 660 Hz tone, as a leg handles them: ours out (PCMU built
by the session → Opus → SRTP protect) and the browser's in (SRTP unprotect → Opus → PCMU), and, for
comparison, a G.711 browser leg (SRTP only). Prints µs per packet and the share of one core that 100 legs
(50 packets/s each way) would take. No sockets: the figures are the conversion alone.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from voxcenter.media.codecs import PCMU
from voxcenter.media.opus import COMPLEXITY, OpusWire
from voxcenter.media.rtp import build_rtp
from voxcenter.media.srtp import SrtpContext, new_sdes_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=3000)
    parser.add_argument("--complexity", type=int, default=COMPLEXITY, help="libopus encoder complexity, 0..10")
    args = parser.parse_args()
    count = args.packets
    samples = (np.sin(2 * np.pi * 660 * np.arange(count * 160) / 8000) * 12000).astype(np.int16)
    packets = [build_rtp(0, False, i & 0xFFFF, i * 160, 0x1234, PCMU.encode(samples[i * 160:(i + 1) * 160]))
               for i in range(count)]
    ours, theirs = new_sdes_key(), new_sdes_key()
    leg = SrtpContext.from_sdes("AES_CM_128_HMAC_SHA1_80", ours, theirs)
    browser = SrtpContext.from_sdes("AES_CM_128_HMAC_SHA1_80", theirs, ours)
    wire, far = OpusWire(111, complexity=args.complexity), OpusWire(111)

    started = time.process_time()
    opus_out = [wire.outgoing(p) for p in packets]
    opus_encode = time.process_time() - started
    sent = [p for p in opus_out if p is not None]
    started = time.process_time()
    protected = [leg.protect(p) for p in sent]
    protect = time.process_time() - started
    # The browser's packets, as they arrive: SRTP, Opus.
    arriving = [browser.protect(p) for p in sent]
    started = time.process_time()
    unprotected = [leg.unprotect(p or b"") for p in arriving]
    unprotect = time.process_time() - started
    started = time.process_time()
    back = [far.incoming(p or b"") for p in unprotected]
    opus_decode = time.process_time() - started
    assert all(p is not None for p in protected) and all(p is not None for p in back)

    def line(name: str, seconds: float, packets_timed: int) -> None:
        per_packet = seconds / packets_timed * 1e6
        print(f"{name:<34} {per_packet:7.1f} µs/packet   100 legs: {per_packet * 50 * 100 / 1e4:5.1f} % of a core")

    print(f"{count} packets of 20 ms, Opus complexity {args.complexity}")
    line("out: PCMU -> Opus", opus_encode, count)
    line("out: SRTP protect", protect, len(sent))
    line("in:  SRTP unprotect", unprotect, len(arriving))
    line("in:  Opus -> PCMU", opus_decode, len(unprotected))
    line("Opus leg, both ways", opus_encode + protect + unprotect + opus_decode, count)
    line("G.711 leg, both ways (SRTP only)", protect + unprotect, len(sent))


if __name__ == "__main__":
    main()
