package fresh

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/composegen/composegen/templates/internal/wire"
)

// redisDBCounts remembers each server's number of databases.
var redisDBCounts once[string]

// Redis is the work of templates.RedisFreshURL and its Bitnami and
// Dragonfly twins (see them): it leases a logical database of the server
// (1 and up) to t across every test binary of the stack, flushes it when
// leased and when t ends, and returns its URL, with password when it is
// not empty. It fails t, saying why and what to do, when it cannot.
func Redis(t TB, s Service, password string) string {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	addr := s.Addr(6379)
	fail := func(format string, args ...any) string {
		t.Fatalf("FreshURL: "+format, args...)
		return ""
	}
	n, err := redisDBCounts.do(ctx, s.ContainerID(), func() (string, error) {
		return redisDatabases(ctx, addr, password)
	})
	if err != nil {
		return fail("%v", err)
	}
	count, _ := strconv.Atoi(n)
	if count < 2 {
		return fail("the server has %d database(s): FreshURL leases databases 1 and up; start it with more (redis-server --databases 16)", count)
	}
	slot, release, err := s.Lease(ctx, "redis-db", count-1)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fail("all %d databases that FreshURL leases (1 to %d) stayed leased to other tests, of this and other test binaries, until shortly before this test's deadline: run fewer tests at a time (-parallel, -p), release them sooner, or start the server with more databases (--databases): %v", count-1, count-1, err)
		}
		return fail("%v", err)
	}
	db := slot + 1
	if err := redisFlush(ctx, addr, password, db); err != nil {
		release()
		return fail("flush database %d: %v", db, err)
	}
	t.Cleanup(func() {
		defer release()
		ctx, cancel := cleanupContext()
		defer cancel()
		if err := redisFlush(ctx, addr, password, db); err != nil {
			t.Logf("FreshURL: flush database %d at the end of the test: %v (the next lease flushes it)", db, err)
		}
	})
	u := url.URL{Scheme: "redis", Host: addr, Path: "/" + strconv.Itoa(db)}
	if password != "" {
		u.User = url.UserPassword("", password)
	}
	return u.String()
}

// redisDatabases asks the server how many databases it has (CONFIG GET
// databases); 16, Redis's default, when it does not say.
func redisDatabases(ctx context.Context, addr, password string) (string, error) {
	c, err := wire.DialRedis(ctx, addr, "", password)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer c.Close()
	v, err := c.Do(ctx, "CONFIG", "GET", "databases")
	if list, ok := v.([]any); err == nil && ok && len(list) == 2 {
		if s, ok := list[1].(string); ok {
			if _, err := strconv.Atoi(s); err == nil {
				return s, nil
			}
		}
	}
	var re *wire.RedisError
	if err != nil && !errors.As(err, &re) {
		return "", fmt.Errorf("CONFIG GET databases: %w", err)
	}
	return "16", nil
}

// redisFlush empties database db.
func redisFlush(ctx context.Context, addr, password string, db int) error {
	c, err := wire.DialRedis(ctx, addr, "", password)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Do(ctx, "SELECT", strconv.Itoa(db)); err != nil {
		return err
	}
	_, err = c.Do(ctx, "FLUSHDB")
	return err
}
