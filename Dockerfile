# voxcenter: one asyncio process terminating SIP and RTP (see docs/ and config/voxcenter.yaml).
#
#   docker build -t voxcenter .
#   docker run --rm -p 5060:5060/udp -p 5060:5060/tcp -p 20000-20999:20000-20999/udp \
#       -v "$PWD/my-config:/opt/voxcenter/config" -v voxcenter-var:/opt/voxcenter/var voxcenter
#
# The layout keeps the example dial plan's relative paths working: the dial plan in
# /opt/voxcenter/config, prompts in /opt/voxcenter/prompts (`../prompts`), recordings and the
# journal under /opt/voxcenter/var (`../var/...`). A dial plan for a container listens on 0.0.0.0
# (the example listens on 127.0.0.1 only) and sets rtp.external_address when behind NAT; RTP needs
# the whole rtp.port_min..port_max range published (or `--network host`). The bundled example dial plan
# only listens on the container's loopback: it is there for `docker run ... voxcenter demo`.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The project itself: only what the package build needs (see .dockerignore).
WORKDIR /opt/voxcenter/src
COPY pyproject.toml ./
COPY voxcenter ./voxcenter
RUN pip install . && rm -rf /opt/voxcenter/src

WORKDIR /opt/voxcenter
COPY prompts ./prompts
COPY config ./config

# An unprivileged user owns the writable state. Port 5060 needs no privilege in a container (Docker
# 20.10+ sets net.ipv4.ip_unprivileged_port_start=0); on older engines listen above 1023.
RUN groupadd --system voxcenter \
    && useradd --system --gid voxcenter --home-dir /opt/voxcenter --shell /usr/sbin/nologin voxcenter \
    && mkdir -p /opt/voxcenter/var/recordings /opt/voxcenter/var/journal \
    && chown -R voxcenter:voxcenter /opt/voxcenter/var
USER voxcenter

VOLUME ["/opt/voxcenter/config", "/opt/voxcenter/var"]

# SIP (UDP and TCP), SIP over TLS, the admin API and wallboard, and the RTP port range.
EXPOSE 5060/udp 5060/tcp 5061/tcp 8088/tcp 20000-20999/udp

# Alive = the SIP listener answers an OPTIONS on 127.0.0.1:$VOXCENTER_SIP_PORT/udp with any SIP response.
# Set VOXCENTER_SIP_PORT to the dial plan's UDP port (the bundled example listens on 127.0.0.1:5080).
ENV VOXCENTER_SIP_PORT=5060
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["python", "-c", "\
import os, socket, uuid; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); \
b = uuid.uuid4().hex; s.connect(('127.0.0.1', int(os.environ.get('VOXCENTER_SIP_PORT', '5060')))); \
s.send(('OPTIONS sip:127.0.0.1 SIP/2.0\\r\\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\\r\\n' \
% (s.getsockname()[1], b) + 'Max-Forwards: 70\\r\\nFrom: <sip:health@127.0.0.1>;tag=' + b[:8] + \
'\\r\\nTo: <sip:127.0.0.1>\\r\\nCall-ID: ' + b + '\\r\\nCSeq: 1 OPTIONS\\r\\nContent-Length: 0\\r\\n\\r\\n').encode()); \
raise SystemExit(0 if s.recv(4096).startswith(b'SIP/2.0 ') else 1)"]

# SIGTERM (docker stop) drains: new calls get 503, calls in progress continue up to --drain seconds.
# Give `docker stop --time` (default 10 s) more than the drain to let the records flush.
STOPSIGNAL SIGTERM
ENTRYPOINT ["voxcenter"]
CMD ["run", "--config", "/opt/voxcenter/config/voxcenter.yaml", "--log-json", "--drain", "20"]
