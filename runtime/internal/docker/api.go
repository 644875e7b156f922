package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/composegen/composegen/runtime/engine"
	dt "github.com/ory/dockertest/v3/docker"
)

// apiBase is the URL prefix of raw API calls. The host is never resolved:
// every connection goes through the engine's dialer.
const apiBase = "http://docker"

// apiError is an error status of the engine's API.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return e.Message }

// Unwrap makes a 404 match engine.ErrNotFound, and Podman's 500 for a
// container removed while it was looked up ("… does not exist in
// database: no such container").
func (e *apiError) Unwrap() error {
	if e.Status == http.StatusNotFound || (e.Status == http.StatusInternalServerError && strings.HasSuffix(e.Message, "no such container")) {
		return engine.ErrNotFound
	}
	return nil
}

// request sends a raw API request; in (if not nil) is sent as JSON. The
// caller closes the response body. Error statuses become *apiError.
func (e *Engine) request(ctx context.Context, method, path string, query url.Values, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	u := apiBase + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer drain(resp.Body)
		return nil, readAPIError(resp)
	}
	return resp, nil
}

// call sends a raw API request and decodes the JSON answer into out (if
// not nil).
func (e *Engine) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	resp, err := e.request(ctx, method, path, query, in)
	if err != nil {
		return err
	}
	defer drain(resp.Body)
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// drain reads what is left of a body (the newline after the JSON) and
// closes it: only a body read to its end lets the transport reuse the
// connection, which over TLS or ssh is worth a handshake or a session.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	body.Close()
}

// readAPIError reads an error answer ({"message": "..."}).
func readAPIError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var m struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	if msg == "" {
		msg = resp.Status
	}
	return &apiError{Status: resp.StatusCode, Message: msg}
}

// status returns the HTTP status of an API error, 0 for other errors.
func status(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	var de *dt.Error
	if errors.As(err, &de) {
		return de.Status
	}
	return 0
}

// notFound makes the errors of the dockertest client that mean "does not
// exist" wrap engine.ErrNotFound.
func notFound(err error) error {
	var (
		nc *dt.NoSuchContainer
		nn *dt.NoSuchNetwork
		ne *dt.NoSuchExec
	)
	switch {
	case err == nil || errors.Is(err, engine.ErrNotFound):
		return err
	case errors.As(err, &nc), errors.As(err, &nn), errors.As(err, &ne),
		errors.Is(err, dt.ErrNoSuchImage), errors.Is(err, dt.ErrNoSuchVolume), status(err) == http.StatusNotFound:
		return fmt.Errorf("%w: %w", err, engine.ErrNotFound)
	}
	return err
}
