package load

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	interp "github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
)

// logMu serialises loads: compose-go logs through logrus's global logger,
// which loadProject redirects into the result's diagnostics.
var logMu sync.Mutex

type logHook struct{ msgs []string }

func (h *logHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h *logHook) Fire(e *logrus.Entry) error {
	h.msgs = append(h.msgs, e.Message)
	return nil
}

// loadProject runs compose-go's loader on the files, with variables kept as
// tokens. Its messages become warnings and its error a located diagnostic.
func (res *Result) loadProject(ctx context.Context, projectName string) (*types.Project, error) {
	// Project name: -p, else the name: attribute (handled by compose-go),
	// else the project directory's name. COMPOSE_PROJECT_NAME is ignored:
	// it is machine environment.
	name, explicit := projectName, projectName != ""
	if !explicit {
		name = loader.NormalizeProjectName(filepath.Base(res.ProjectDir))
		if name == "" {
			name = "composegen"
		}
	}
	details := types.ConfigDetails{
		WorkingDir:  res.ProjectDir,
		ConfigFiles: types.ToConfigFiles(res.Files),
		// Empty on purpose: compose-go copies values from it into bare
		// environment entries, build args and secrets, which would bake the
		// generating machine's environment into the output.
		Environment: types.Mapping{},
	}
	vars := res.Vars
	casts := castMapping(vars)

	logMu.Lock()
	hook := &logHook{}
	std := logrus.StandardLogger()
	oldHooks := std.ReplaceHooks(logrus.LevelHooks{})
	oldOut := std.Out
	std.AddHook(hook)
	std.SetOutput(io.Discard)
	project, err := recovered(func() (*types.Project, error) {
		return loader.LoadWithContext(ctx, details, func(o *loader.Options) {
			o.SetProjectName(name, explicit)
			o.Profiles = []string{"*"}
			o.SkipResolveEnvironment = true
			o.SkipResolveLabels = true
			o.ResolvePaths = true
			o.MaxNodeVisits = maxNodeVisits
			o.Interpolate = &interp.Options{
				Substitute:      vars.substitute,
				LookupValue:     interp.LookupValue(vars.real),
				TypeCastMapping: casts,
			}
		})
	})
	std.ReplaceHooks(oldHooks)
	std.SetOutput(oldOut)
	logMu.Unlock()

	for _, m := range hook.msgs {
		res.Diagnostics = append(res.Diagnostics, res.logDiagnostic(m))
	}
	if err != nil {
		return nil, diag.Errors{res.wrapError(err)}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return project, nil
}

// logDiagnostic turns a message that compose-go logged into a warning.
func (res *Result) logDiagnostic(m string) diag.Diagnostic {
	d := diag.Diagnostic{Severity: diag.Warning, Message: res.Vars.Template(m)}
	for _, f := range res.Positions.Files() {
		if rest, ok := strings.CutPrefix(d.Message, f+": "); ok {
			d.File, d.Message = res.display(f), rest
		}
		d.Message = strings.ReplaceAll(d.Message, f, res.display(f))
	}
	return d
}

// recovered calls load, turning a panic of compose-go's (its YAML decoder
// crashes on some malformed files, e.g. a "!reset" tag on the document
// root) into an error without a stack trace.
func recovered(load func() (*types.Project, error)) (p *types.Project, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("the compose file cannot be loaded (compose-go crashed on it: %v)", r)
		}
	}()
	return load()
}
