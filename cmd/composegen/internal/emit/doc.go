package emit

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/dave/jennifer/jen"
)

// doc renders paragraphs as a // comment, wrapped, ready to precede a
// declaration.
func doc(paragraphs ...string) *jen.Statement {
	s := jen.Null()
	for i, p := range paragraphs {
		if i > 0 {
			s.Comment("//").Line()
		}
		for _, line := range wrap(p, 76) {
			// "// " is given explicitly: jennifer then writes the line as is,
			// which also keeps a line that starts with "/*" a line comment.
			s.Comment("// " + line).Line()
		}
	}
	return s
}

// wrap splits text at spaces into lines of at most width bytes where
// possible.
func wrap(text string, width int) []string {
	words := strings.Split(oneLine(text), " ")
	var lines []string
	line := ""
	for _, w := range words {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) > width:
			lines = append(lines, line)
			line = w
		default:
			line += " " + w
		}
	}
	return append(lines, line)
}

// oneLine makes text from the compose file safe inside a // comment: text
// with line breaks or other control characters is quoted.
func oneLine(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}

// quote is strconv.Quote, for names in doc comments.
func quote(s string) string { return strconv.Quote(s) }

func (g *gen) sources() string {
	if len(g.p.Plan.Files) == 0 {
		return "its compose files"
	}
	fs := make([]string, len(g.p.Plan.Files))
	for i, f := range g.p.Plan.Files {
		fs[i] = oneLine(f)
	}
	return strings.Join(fs, ", ")
}
