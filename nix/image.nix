# The gateway's container image (Linux only): a docker-archive tarball
# (dockerTools.buildLayeredImage), not an OCI layout; `docker load` reads it.
#
#   nix build .#image
#   docker load < result                       # prints "Loaded image: cordis-gateway:<tag>"
#   docker run --rm -e CORDIS_AUTH=... -e CORDIS_AMQP_HOST=rabbitmq cordis-gateway:<tag>
#
# Contents: the static gateway binary (entrypoint), the CA bundle (Discord is
# HTTPS/WSS) and tzdata. No shell. Runs as uid/gid 65532 (non-root).
{
  lib,
  dockerTools,
  cacert,
  tzdata,
  cordis-gateway,
  name ? "cordis-gateway",
  tag ? cordis-gateway.version,
}:

let
  uid = "65532";

  # DESIGN.md section 2, one label per variable, so `docker inspect` documents
  # the configuration.
  env = {
    CORDIS_AUTH = "required. Bot token (a leading 'Bot ' is stripped); never logged";
    CORDIS_AMQP_HOST = "required. host, host:port, or amqp://user:pass@host:port/vhost / amqps://...";
    CORDIS_DEBUG = "default false. true/false/1/0/yes/no";
    CORDIS_SHARD_COUNT = "default total - starting. Shards this process runs, >= 1";
    CORDIS_STARTING_SHARD = "default 0. First shard id of this process";
    CORDIS_TOTAL_SHARD_COUNT = "default Discord's recommended shards. starting+count <= total";
    CORDIS_REDIS_URL = "default unset. redis:// or rediss:// URL for identify locks and sessions";
    CORDIS_WS_COMPRESS = "default true. bool (true = zlib-stream), zlib-stream or zstd-stream";
    CORDIS_WS_ENCODING = "default etf. etf or json";
    CORDIS_WS_OPEN_TIMEOUT = "default 30s. TCP+TLS+websocket handshake";
    CORDIS_WS_HELLO_TIMEOUT = "default 30s. socket open -> HELLO";
    CORDIS_WS_READY_TIMEOUT = "default 60s. IDENTIFY sent -> READY";
    CORDIS_WS_GUILD_TIMEOUT = "default 10s. wait for initial GUILD_CREATEs (readiness only)";
    CORDIS_WS_RECONNECT_TIMEOUT = "default 60s. RESUME sent -> RESUMED, then identify";
    CORDIS_WS_LARGE_THRESHOLD = "default 250. 50..250";
    CORDIS_WS_INTENTS = "default nonPrivileged. comma separated names/numbers, all, privileged, nonPrivileged";
    CORDIS_DISCORD_API = "default https://discord.com/api/v10. REST base (only GET /gateway/bot)";
    CORDIS_METRICS_ADDR = "default unset. e.g. :9090 for /metrics, /healthz, /readyz";
  };
in
dockerTools.buildLayeredImage {
  inherit name tag;

  contents = [
    cacert
    tzdata
  ];

  # A writable /tmp for the unprivileged user; nothing else is written.
  extraCommands = ''
    mkdir -p tmp
    chmod 1777 tmp
  '';

  config = {
    Entrypoint = [ (lib.getExe cordis-gateway) ];
    User = "${uid}:${uid}";
    Env = [
      "SSL_CERT_FILE=${cacert}/etc/ssl/certs/ca-bundle.crt"
      "ZONEINFO=${tzdata}/share/zoneinfo"
    ];
    Labels = {
      "org.opencontainers.image.title" = "cordis-gateway";
      "org.opencontainers.image.description" = cordis-gateway.meta.description;
      "org.opencontainers.image.version" = cordis-gateway.version;
      "org.opencontainers.image.source" = cordis-gateway.meta.homepage;
    }
    // lib.mapAttrs' (k: v: lib.nameValuePair "io.cordis.env.${k}" v) env;
  };
}
