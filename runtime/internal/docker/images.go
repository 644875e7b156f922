package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/buildctx"
	dt "github.com/ory/dockertest/v3/docker"
)

// Image inspects a local image.
func (e *Engine) Image(ctx context.Context, ref string) (engine.ImageInfo, error) {
	var img struct {
		ID           string `json:"Id"`
		OS           string `json:"Os"`
		Architecture string
		Config       struct{ Labels map[string]string }
	}
	// The engine routes image names with slashes as they are.
	if err := e.call(ctx, "GET", "/images/"+ref+"/json", nil, nil, &img); err != nil {
		return engine.ImageInfo{}, fmt.Errorf("image %s: %w", ref, err)
	}
	return engine.ImageInfo{ID: img.ID, OS: img.OS, Architecture: img.Architecture, Labels: img.Config.Labels}, nil
}

// Pull pulls an image, writing the engine's status messages to out (one
// line each, without progress bars). The engine's answer is read here:
// Podman reports a failed pull in a 200 answer without a JSON content
// type, which dockertest's client takes for success.
func (e *Engine) Pull(ctx context.Context, ref, platform string, out io.Writer) error {
	if err := e.pull(ctx, ref, platform, out); err != nil {
		return fmt.Errorf("pull %s: %w", ref, ctxErr(ctx, err))
	}
	return nil
}

func (e *Engine) pull(ctx context.Context, ref, platform string, out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	repo, tag := splitRef(ref)
	q := url.Values{"fromImage": {repo}, "tag": {tag}}
	if platform != "" {
		q.Set("platform", platform)
	}
	resp, err := e.request(ctx, "POST", "/images/create", q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var m struct {
			ID, Status, Progress, Error string
			ErrorDetail                 *struct{ Message string }
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		switch {
		case m.ErrorDetail != nil && m.ErrorDetail.Message != "":
			return errors.New(m.ErrorDetail.Message)
		case m.Error != "":
			return errors.New(m.Error)
		case m.Status != "" && m.Progress == "":
			fmt.Fprintln(out, strings.TrimSpace(m.ID+" "+m.Status))
		}
	}
}

// splitRef splits an image reference into repository and tag (or
// digest); a reference without either means "latest" (an empty tag would
// pull every tag).
func splitRef(ref string) (repo, tag string) {
	if i := strings.LastIndexByte(ref, '@'); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	slash := strings.LastIndexByte(ref, '/')
	if i := strings.LastIndexByte(ref, ':'); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

// Build builds an image with the engine's classic builder, writing the
// build output to out. The context is sent as package buildctx makes it
// (the files that .dockerignore does not exclude, and the Dockerfile, also
// from outside the context), the files whose digest identifies the image.
func (e *Engine) Build(ctx context.Context, spec engine.BuildSpec, out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	bc, err := buildctx.Open(spec.ContextDir, spec.Dockerfile)
	if err != nil {
		return fmt.Errorf("build %s: %w", spec.Tag, err)
	}
	var args []dt.BuildArg
	for k, v := range spec.Args {
		args = append(args, dt.BuildArg{Name: k, Value: v})
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(bc.WriteTar(pw)) }()
	defer pr.Close()
	err = e.c.BuildImage(dt.BuildImageOptions{
		Name: spec.Tag, InputStream: pr, Dockerfile: bc.Dockerfile(), BuildArgs: args,
		Target: spec.Target, Platform: spec.Platform, Labels: spec.Labels, NoCache: spec.NoCache,
		RmTmpContainer: true, ForceRmTmpContainer: true, OutputStream: out, Context: ctx,
	})
	if err != nil {
		return fmt.Errorf("build %s from %s: %w", spec.Tag, spec.ContextDir, ctxErr(ctx, err))
	}
	return nil
}
