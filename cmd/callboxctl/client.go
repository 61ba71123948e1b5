package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"callbox/daemon/apiv1"
)

// client calls callboxd's HTTP API.
type client struct {
	base  string
	token string
	http  http.Client
}

// do sends a request and decodes a JSON answer into out; a non-2xx answer
// becomes an error carrying the daemon's message.
func (c *client) do(method, path string, body, out any) error {
	return c.doCtx(context.Background(), method, path, body, out)
}

// doCtx is do bound to a context.
func (c *client) doCtx(ctx context.Context, method, path string, body, out any) error {
	if body == nil {
		return c.doRaw(ctx, method, path, "", nil, out)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return c.doRaw(ctx, method, path, "application/json", bytes.NewReader(b), out)
}

// doRaw sends body as it is, with contentType, and decodes a JSON answer.
func (c *client) doRaw(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.base, "/")+path, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach callboxd at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e apiv1.Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("callboxd: %s (HTTP %d)", e.Error, resp.StatusCode)
		}
		return fmt.Errorf("callboxd: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format("15:04:05.000")
}
