# voxcenter: one asyncio process terminating SIP and RTP (see docs/ and config/voxcenter.yaml).
#
#   docker build -t voxcenter .
#   docker run --rm --network host \
#       -v "$PWD/my-config:/opt/voxcenter/config:ro" -v voxcenter-var:/opt/voxcenter/var voxcenter
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

# The SQLite database lives with the rest of the writable state, not next to the dial plan (a read-only mount
# owned by root): `voxcenter run` and the reports (`docker exec … voxcenter report`) both read this variable.
# A dial plan's database.url (PostgreSQL) is used when this is unset: `-e VOXCENTER_DATABASE_URL=`.
ENV VOXCENTER_DATABASE_URL=sqlite+aiosqlite:////opt/voxcenter/var/voxcenter.db

VOLUME ["/opt/voxcenter/config", "/opt/voxcenter/var"]

# SIP (UDP and TCP), SIP over TLS, the admin API and wallboard, and the RTP port range.
EXPOSE 5060/udp 5060/tcp 5061/tcp 8088/tcp 20000-20999/udp

# Alive = the dial plan's first UDP (else TCP) SIP listener answers an OPTIONS with any SIP response: the port is
# read from the same dial plan the server runs (the bundled example listens on 127.0.0.1:5080).
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["voxcenter", "health", "--config", "/opt/voxcenter/config/voxcenter.yaml"]

# SIGTERM (docker stop) drains: new calls get 503, calls in progress continue up to --drain seconds.
# Give `docker stop --time` (default 10 s) more than the drain to let the records flush.
STOPSIGNAL SIGTERM
ENTRYPOINT ["voxcenter"]
CMD ["run", "--config", "/opt/voxcenter/config/voxcenter.yaml", "--log-json", "--drain", "20s"]
