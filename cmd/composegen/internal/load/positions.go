package load

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/composegen/composegen/runtime/composeplan"
)

// Pos is a position in a compose file.
type Pos struct {
	// File is the absolute path of the compose file.
	File   string
	Line   int
	Column int
}

// Positions indexes the YAML nodes of the compose files by path, so that
// messages can name the file and line of a service or a field.
type Positions struct {
	files []string                  // in merge order: later files override
	index map[string]map[string]Pos // file → path → position
	docs  map[string]*yaml.Node     // file → document root mapping
	// hashes are composeplan.HashContent of each file read.
	hashes map[string]string
	// aliasBombs are the files whose aliases expand to more than
	// maxNodeVisits nodes; they are not indexed.
	aliasBombs []string
}

// maxNodeVisits bounds the nodes visited while indexing one file, aliases
// expanded: compose-go refuses files above the same bound (its
// MaxNodeVisits), and a few hundred bytes of nested aliases (a "billion
// laughs" file) would otherwise expand to billions of nodes.
const maxNodeVisits = 100_000

// Path syntax: "services.api", "services.api.ports", "services.api.ports[1]",
// "services.api.healthcheck.interval".

func newPositions() *Positions {
	return &Positions{index: map[string]map[string]Pos{}, docs: map[string]*yaml.Node{}, hashes: map[string]string{}}
}

// add parses file (best effort: a file that does not parse is skipped, the
// loader reports the error) and returns the files it includes or extends.
func (p *Positions) add(file string) []string {
	if _, ok := p.index[file]; ok {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	p.hashes[file] = composeplan.HashContent(data)
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		p.index[file] = map[string]Pos{}
		p.files = append(p.files, file)
		return nil
	}
	root := doc.Content[0]
	idx := map[string]Pos{}
	budget := maxNodeVisits
	if !p.walk(file, idx, "", root, 0, &budget) {
		p.aliasBombs = append(p.aliasBombs, file)
		idx = map[string]Pos{}
	}
	p.index[file] = idx
	p.docs[file] = root
	p.files = append(p.files, file)

	// Files referenced by include and extends, for positions of services
	// defined there.
	var more []string
	dir := filepath.Dir(file)
	addRef := func(s string) {
		if s == "" || strings.Contains(s, "$") || strings.Contains(s, "://") {
			return
		}
		if !filepath.IsAbs(s) {
			s = filepath.Join(dir, s)
		}
		more = append(more, s)
	}
	if inc := mapValue(root, "include"); inc != nil && inc.Kind == yaml.SequenceNode {
		for _, it := range inc.Content {
			switch it.Kind {
			case yaml.ScalarNode:
				addRef(it.Value)
			case yaml.MappingNode:
				if pv := mapValue(it, "path"); pv != nil {
					if pv.Kind == yaml.ScalarNode {
						addRef(pv.Value)
					} else {
						for _, e := range pv.Content {
							addRef(e.Value)
						}
					}
				}
			}
		}
	}
	if svcs := mapValue(root, "services"); svcs != nil && svcs.Kind == yaml.MappingNode {
		for i := 1; i < len(svcs.Content); i += 2 {
			if ext := mapValue(svcs.Content[i], "extends"); ext != nil {
				if f := mapValue(ext, "file"); f != nil {
					addRef(f.Value)
				}
			}
		}
	}
	return more
}

// walk indexes n and its descendants under path. It returns false when
// *budget, the number of nodes it may still visit, runs out.
func (p *Positions) walk(file string, idx map[string]Pos, path string, n *yaml.Node, depth int, budget *int) bool {
	if *budget--; *budget < 0 {
		return false
	}
	if depth > 64 {
		return true
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				continue
			}
			sub := k.Value
			if path != "" {
				sub = path + "." + k.Value
			}
			idx[sub] = Pos{File: file, Line: k.Line, Column: k.Column}
			if !p.walk(file, idx, sub, v, depth+1, budget) {
				return false
			}
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			sub := path + "[" + strconv.Itoa(i) + "]"
			idx[sub] = Pos{File: file, Line: e.Line, Column: e.Column}
			if !p.walk(file, idx, sub, e, depth+1, budget) {
				return false
			}
		}
	}
	return true
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Find returns the position of path ("services.api.ports[1]") in the last
// compose file that defines it (overrides win), falling back to the longest
// defined prefix of the path. ok is false when not even the first element is
// found.
func (p *Positions) Find(path string) (Pos, bool) {
	if p == nil {
		return Pos{}, false
	}
	for cur := path; cur != ""; cur = parentPath(cur) {
		for i := len(p.files) - 1; i >= 0; i-- {
			if pos, ok := p.index[p.files[i]][cur]; ok {
				return pos, true
			}
		}
	}
	return Pos{}, false
}

// Service returns the position of a service field ("ports[1]", "" for the
// service itself).
func (p *Positions) Service(service, field string) (Pos, bool) {
	path := "services." + service
	if field != "" {
		if strings.HasPrefix(field, "[") {
			path += field
		} else {
			path += "." + field
		}
	}
	return p.Find(path)
}

// Files returns the parsed files in order.
func (p *Positions) Files() []string { return append([]string(nil), p.files...) }

// Hash returns composeplan.HashContent of a file's content as it was read,
// false when the file was not read.
func (p *Positions) Hash(file string) (string, bool) {
	h, ok := p.hashes[file]
	return h, ok
}

// ServiceFields lists the keys declared for a service across all files, with
// the position of the last declaration.
func (p *Positions) ServiceFields(service string) map[string]Pos {
	out := map[string]Pos{}
	prefix := "services." + service + "."
	for _, f := range p.files {
		for k, pos := range p.index[f] {
			if rest, ok := strings.CutPrefix(k, prefix); ok && !strings.ContainsAny(rest, ".[") {
				out[rest] = pos
			}
		}
	}
	return out
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

// scalar returns the scalar value at path in file, "" when it is not a
// scalar.
func (p *Positions) scalar(file, path string) string {
	n := p.docs[file]
	if n == nil {
		return ""
	}
	// Walk by segments of the dotted/bracketed path.
	cur := n
	rest := path
	for rest != "" && cur != nil {
		for cur.Kind == yaml.AliasNode && cur.Alias != nil {
			cur = cur.Alias
		}
		if strings.HasPrefix(rest, "[") {
			j := strings.IndexByte(rest, ']')
			i, err := strconv.Atoi(rest[1:j])
			if err != nil || cur.Kind != yaml.SequenceNode || i >= len(cur.Content) {
				return ""
			}
			cur = cur.Content[i]
			rest = strings.TrimPrefix(rest[j+1:], ".")
			continue
		}
		j := strings.IndexAny(rest, ".[")
		key := rest
		if j >= 0 {
			key = rest[:j]
			rest = strings.TrimPrefix(rest[j:], ".")
		} else {
			rest = ""
		}
		cur = mapValue(cur, key)
	}
	for cur != nil && cur.Kind == yaml.AliasNode && cur.Alias != nil {
		cur = cur.Alias
	}
	if cur == nil || cur.Kind != yaml.ScalarNode {
		return ""
	}
	return cur.Value
}

// BareBuildArgs returns the build args of a service declared without a value
// ("- VERSION" or "VERSION:"), in any compose file. compose-go drops them when
// the generating environment lacks the variable; they take the variable of
// the same name when the stack starts.
func (p *Positions) BareBuildArgs(service string) []string {
	var out []string
	for _, f := range p.files {
		args := mapValue(mapValue(mapValue(mapValue(p.docs[f], "services"), service), "build"), "args")
		if args == nil {
			continue
		}
		switch args.Kind {
		case yaml.SequenceNode:
			for _, it := range args.Content {
				if it.Kind == yaml.ScalarNode && !strings.Contains(it.Value, "=") {
					out = append(out, it.Value)
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(args.Content); i += 2 {
				if v := args.Content[i+1]; v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
					out = append(out, args.Content[i].Value)
				}
			}
		}
	}
	return out
}

// findValue returns the path and position of the first scalar under prefix
// (in file order, then path order) whose value contains v.
func (p *Positions) findValue(prefix, v string) (string, Pos, bool) {
	if len(v) < 2 {
		return "", Pos{}, false
	}
	for _, f := range p.files {
		idx := p.index[f]
		keys := make([]string, 0, len(idx))
		for k := range idx {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) && strings.Contains(p.scalar(f, k), v) {
				return k, idx[k], true
			}
		}
	}
	return "", Pos{}, false
}
