package model

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
)

// envFileNames returns the names of the variables defined in the service's
// env files that exist now, each with the env file (relative to the project
// directory) that defines it last. Values are never kept: they are read
// when the stack starts. A file that cannot be parsed is warned about and
// skipped; the runtime reports it again at start.
func (b *builder) envFileNames(service string, s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for i, ef := range s.EnvFiles {
		data, err := os.ReadFile(ef.Path)
		if err != nil {
			continue // optional or created later: checked at start
		}
		rel := b.path(ef.Path)
		var names []string
		if b.t(ef.Format) == "raw" {
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				if k, _, ok := strings.Cut(line, "="); ok {
					names = append(names, k)
				}
			}
		} else {
			vals, err := dotenv.ParseWithLookup(bytes.NewReader(data), func(string) (string, bool) { return "", false })
			if err != nil {
				b.warn(service, "env_file["+strconv.Itoa(i)+"]", "%s: %v; its variables get no Env field", rel, err)
				continue
			}
			for k := range vals {
				names = append(names, k)
			}
		}
		for _, k := range names {
			out[k] = rel
		}
	}
	return out
}
