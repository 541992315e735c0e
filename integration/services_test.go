package integration

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
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

// startContainers starts the RabbitMQ and Redis containers at the same
// time (RabbitMQ alone takes seconds to boot) and stops both if either fails.
func startContainers(ctx context.Context) (*services, error) {
	var (
		wg                sync.WaitGroup
		rabbit            *tcrabbitmq.RabbitMQContainer
		rds               *tcredis.RedisContainer
		rabbitErr, rdsErr error
		amqpURL, redisURL string
	)
	wg.Go(func() {
		rabbit, rabbitErr = runContainer(ctx, "rabbitmq", func() (*tcrabbitmq.RabbitMQContainer, error) {
			return tcrabbitmq.Run(ctx, rabbitImage)
		})
		if rabbitErr == nil {
			if amqpURL, rabbitErr = rabbit.AmqpURL(ctx); rabbitErr != nil {
				rabbitErr = fmt.Errorf("rabbitmq url: %w", rabbitErr)
			}
		}
	})
	wg.Go(func() {
		rds, rdsErr = runContainer(ctx, "redis", func() (*tcredis.RedisContainer, error) {
			return tcredis.Run(ctx, redisImage)
		})
		if rdsErr == nil {
			if redisURL, rdsErr = rds.ConnectionString(ctx); rdsErr != nil {
				rdsErr = fmt.Errorf("redis url: %w", rdsErr)
			}
		}
	})
	wg.Wait()
	stop := func() {
		// A nil container (it never started) terminates as a no-op.
		_ = testcontainers.TerminateContainer(rabbit)
		_ = testcontainers.TerminateContainer(rds)
	}
	if err := errors.Join(rabbitErr, rdsErr); err != nil {
		stop()
		return nil, err
	}
	return &services{amqpURL: amqpURL, redisURL: redisBase(redisURL), stop: stop}, nil
}

// runContainer runs one service container; testcontainers panics when no
// Docker is found, which becomes an error here. A container that started
// but failed its wait is returned with the error, so that it can be removed.
func runContainer[C any](ctx context.Context, name string, run func() (C, error)) (c C, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("docker: %v", r)
		}
	}()
	c, err = run()
	if err != nil {
		err = fmt.Errorf("start %s container: %w", name, err)
	}
	return c, err
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
