package load

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/tree"
)

// TestConstrainedFieldsMatchSchema derives the constrained fields from
// compose-go's schema: an upgrade of compose-go that adds, removes or
// changes one fails here until constrainedFields follows (and the model's
// tests get a case for it).
func TestConstrainedFieldsMatchSchema(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal([]byte(schema.Schema), &root); err != nil {
		t.Fatal(err)
	}
	defs, _ := root["$defs"].(map[string]any)
	seen := map[tree.Path]ConstrainedField{}
	walkSchema(root, defs, tree.NewPath(), map[string]bool{}, seen)
	var got []ConstrainedField
	for _, c := range seen {
		c.Structural = slices.Contains(structuralPaths, c.Path)
		switch {
		case c.Structural:
		case c.Pattern != "" && strings.Contains(c.Pattern, "every_"):
			c.Encoded = true
		case len(c.Values) > 0:
			c.Sample = c.Values[0]
		}
		got = append(got, c)
	}
	slices.SortFunc(got, func(a, b ConstrainedField) int { return strings.Compare(string(a.Path), string(b.Path)) })
	if !reflect.DeepEqual(got, constrainedFields) {
		t.Errorf("the schema's constrained fields differ from constrainedFields:\n got %+v\nwant %+v", got, constrainedFields)
	}
}

// walkSchema records, in out, the string fields of node constrained by an
// enum or an anchored pattern.
func walkSchema(node any, defs map[string]any, path tree.Path, active map[string]bool, out map[tree.Path]ConstrainedField) {
	n, ok := node.(map[string]any)
	if !ok {
		return
	}
	if ref, ok := n["$ref"].(string); ok {
		name := ref[strings.LastIndexByte(ref, '/')+1:]
		if !active[name] {
			active[name] = true
			walkSchema(defs[name], defs, path, active, out)
			delete(active, name)
		}
	}
	if isStringSchema(n) {
		c := out[path]
		c.Path = path
		if vals, ok := n["enum"].([]any); ok {
			for _, v := range vals {
				if s, ok := v.(string); ok {
					c.Values = append(c.Values, s)
				}
			}
			out[path] = c
		}
		if p, ok := n["pattern"].(string); ok && strings.HasPrefix(p, "^") && strings.HasSuffix(p, "$") {
			c.Pattern = p
			out[path] = c
		}
	}
	for _, k := range []string{"oneOf", "anyOf", "allOf"} {
		subs, _ := n[k].([]any)
		for _, sub := range subs {
			walkSchema(sub, defs, path, active, out)
		}
	}
	for _, k := range []string{"properties", "patternProperties"} {
		props, _ := n[k].(map[string]any)
		for name, sub := range props {
			next := name
			if k == "patternProperties" {
				next = tree.PathMatchAll
			}
			walkSchema(sub, defs, path.Next(next), active, out)
		}
	}
	if ap, ok := n["additionalProperties"].(map[string]any); ok {
		walkSchema(ap, defs, path.Next(tree.PathMatchAll), active, out)
	}
	if items, ok := n["items"].(map[string]any); ok {
		walkSchema(items, defs, path.Next(tree.PathMatchList), active, out)
	}
}

func isStringSchema(n map[string]any) bool {
	switch t := n["type"].(type) {
	case string:
		return t == "string"
	case nil:
		_, hasEnum := n["enum"]
		return hasEnum
	}
	return false
}
