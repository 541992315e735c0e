package integration

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/testcontainers/testcontainers-go"
	tcrabbitmq "github.com/testcontainers/testcontainers-go/modules/rabbitmq"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
)

type services struct {
	amqpURL, redisURL string
	stop              func()
}

// Images used when testcontainers starts the services.
const (
	rabbitImage = "rabbitmq:3.13-alpine"
	redisImage  = "redis:7-alpine"
)

// startServices uses the URLs from the environment when given, and starts
// containers otherwise.
func startServices(ctx context.Context) (*services, error) {
	amqpURL, redisURL := os.Getenv("CORDIS_TEST_AMQP_URL"), os.Getenv("CORDIS_TEST_REDIS_URL")
	if amqpURL != "" && redisURL != "" {
		return &services{amqpURL: amqpURL, redisURL: redisBase(redisURL), stop: func() {}}, nil
	}
	if amqpURL != "" || redisURL != "" {
		return nil, errors.New("set both CORDIS_TEST_AMQP_URL and CORDIS_TEST_REDIS_URL, or neither")
	}
	return startContainers(ctx)
}

func startContainers(ctx context.Context) (s *services, err error) {
	var stops []func()
	stop := func() {
		for _, f := range stops {
			f()
		}
	}
	defer func() {
		if r := recover(); r != nil { // testcontainers panics when no Docker is found
			stop()
			s, err = nil, fmt.Errorf("docker: %v", r)
		}
	}()
	rabbit, err := tcrabbitmq.Run(ctx, rabbitImage)
	if rabbit != nil {
		stops = append(stops, func() { _ = testcontainers.TerminateContainer(rabbit) })
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("start rabbitmq container: %w", err)
	}
	rds, err := tcredis.Run(ctx, redisImage)
	if rds != nil {
		stops = append(stops, func() { _ = testcontainers.TerminateContainer(rds) })
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("start redis container: %w", err)
	}
	amqpURL, err := rabbit.AmqpURL(ctx)
	if err != nil {
		stop()
		return nil, fmt.Errorf("rabbitmq url: %w", err)
	}
	redisURL, err := rds.ConnectionString(ctx)
	if err != nil {
		stop()
		return nil, fmt.Errorf("redis url: %w", err)
	}
	return &services{amqpURL: amqpURL, redisURL: redisBase(redisURL), stop: stop}, nil
}

// redisBase strips the database number: every test picks its own.
func redisBase(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = ""
	return u.String()
}

// waitForAMQP retries until the broker really accepts connections: a
// container's port opens before RabbitMQ is ready.
func waitForAMQP(ctx context.Context, url string) error {
	var last error
	for ctx.Err() == nil {
		conn, err := amqp.Dial(url)
		if err == nil {
			return conn.Close()
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("RabbitMQ at the test URL never accepted a connection: %w", last)
}
