# `nix develop`: everything the justfile and the test suite use.
{
  mkShell,
  go,
  gopls,
  gotools,
  golangci-lint,
  just,
  rabbitmq-server,
  redis,
  erlang,
  nix,
  nixfmt,
  python3,
}:

mkShell {
  packages = [
    go
    gopls
    gotools # goimports
    golangci-lint
    just
    rabbitmq-server
    redis
    erlang # erl: regenerates the ETF test vectors (term_to_binary)
    nix # nix hash path (nix/vendor-hash.sh)
    nixfmt
    python3 # nix/nar-hash.py fallback
  ];

  shellHook = ''
    # RabbitMQ started from the shell keeps its state outside the repository.
    state="''${XDG_STATE_HOME:-$HOME/.local/state}/cordis"
    export RABBITMQ_MNESIA_BASE="$state/rabbitmq/mnesia"
    export RABBITMQ_LOG_BASE="$state/rabbitmq/log"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$state/rabbitmq/enabled_plugins"
    mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"

    # The integration suite's endpoints: the two services started below
    # (RabbitMQ's default guest/guest; Redis DB 15, the suite's own). Values
    # already set in the calling environment win.
    export CORDIS_TEST_AMQP_URL="''${CORDIS_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}"
    export CORDIS_TEST_REDIS_URL="''${CORDIS_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"

    cat <<EOF
    Cordis dev shell ($(go env GOVERSION))
      start services (once):
        rabbitmq-server -detached
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
      the suite uses them through:
        CORDIS_TEST_AMQP_URL=$CORDIS_TEST_AMQP_URL
        CORDIS_TEST_REDIS_URL=$CORDIS_TEST_REDIS_URL
      then:
        just test     # gofmt, vet, unit tests (-race), integration suite
        just demo     # gateway + fakediscord + cordis-tail end to end
        just --list   # everything else
    EOF
  '';
}
