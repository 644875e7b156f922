// Package emit renders a model.Project as a gofmt'ed Go source file with
// dave/jennifer.
package emit

import (
	"errors"

	"github.com/composegen/composegen/cmd/composegen/internal/model"
)

// File renders the generated file for p. It writes nothing.
func File(p *model.Project) ([]byte, error) {
	return nil, errors.New("emit: not implemented")
}
