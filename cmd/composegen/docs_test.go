package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/composegen/composegen/cmd/composegen/internal/testcorpus"
)

// The repository's markdown: the README, CONTRIBUTING.md, bench/README.md
// and docs/ (without docs/_pending, drafts waiting to be placed). Paths
// are relative to the repository root, with slashes.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md", "CONTRIBUTING.md", "bench/README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "_pending" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// markdownLines returns the lines of a markdown text outside fenced code
// blocks, with inline code spans blanked out, each with its line number.
func markdownLines(text string) (lines []string, numbers []int) {
	fence := ""
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		lines = append(lines, codeSpan.ReplaceAllString(line, "``"))
		numbers = append(numbers, i+1)
	}
	return lines, numbers
}

var (
	codeSpan    = regexp.MustCompile("`[^`]*`")
	inlineLink  = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	refLink     = regexp.MustCompile(`^\s*\[[^\]]+\]:\s*(\S+)`)
	heading     = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	headingLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	htmlAnchor  = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
)

// anchors returns the fragment identifiers GitHub gives a markdown text's
// headings (lower case; letters, digits, '-' and '_' kept, spaces to '-',
// the rest dropped; a repeated one gets -1, -2…), plus HTML anchors.
func anchors(text string) map[string]bool {
	set := map[string]bool{}
	seen := map[string]int{}
	fence := ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			set[m[1]] = true
		}
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		title := headingLink.ReplaceAllString(m[1], "$1")
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			set[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			set[slug] = true
		}
		seen[slug]++
	}
	return set
}

// TestDocsLinks checks that every relative link of the repository's
// markdown points to a file or directory of the repository, and that every
// #fragment names a heading of its target.
func TestDocsLinks(t *testing.T) {
	root := testcorpus.RepoRoot(t)
	texts := map[string]string{}
	read := func(rel string) (string, bool) {
		if s, ok := texts[rel]; ok {
			return s, true
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return "", false
		}
		texts[rel] = string(b)
		return string(b), true
	}
	files := markdownFiles(t, root)
	links := 0
	for _, file := range files {
		text, ok := read(file)
		if !ok {
			t.Errorf("%s: missing", file)
			continue
		}
		lines, numbers := markdownLines(text)
		for i, line := range lines {
			var targets []string
			for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
				targets = append(targets, m[1])
			}
			if m := refLink.FindStringSubmatch(line); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				links++
				where := fmt.Sprintf("%s:%d: link %q", file, numbers[i], target)
				path, fragment, _ := strings.Cut(target, "#")
				dest := file
				if path != "" {
					dest = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(file), path)))
					if dest == ".." || strings.HasPrefix(dest, "../") || filepath.IsAbs(path) {
						t.Errorf("%s leaves the repository", where)
						continue
					}
					if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(dest))); err != nil {
						t.Errorf("%s: %s does not exist", where, dest)
						continue
					}
				}
				if fragment == "" {
					continue
				}
				if !strings.HasSuffix(dest, ".md") {
					t.Errorf("%s: a #fragment on %s, which is not markdown", where, dest)
					continue
				}
				destText, _ := read(dest)
				if !anchors(destText)[fragment] {
					t.Errorf("%s: %s has no heading #%s", where, dest, fragment)
				}
			}
		}
	}
	if links == 0 {
		t.Fatal("no relative link found: the parser is broken")
	}
}

func TestAnchors(t *testing.T) {
	got := anchors("# The CLI\n## `Up`/`Down` in `TestMain`\n```\n# not a heading\n```\n" +
		"## Results, 2026-12-01\n## Notes\n## Notes\n### [Engines](engines.md): Podman\n<a name=\"x\"></a>\n")
	for _, want := range []string{"the-cli", "updown-in-testmain", "results-2026-12-01", "notes", "notes-1", "engines-podman", "x"} {
		if !got[want] {
			t.Errorf("no anchor %q in %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Error("a line in a code block made an anchor")
	}
}

// readmeSection returns the text of the README section under the heading
// "## title", up to the next "## " heading.
func readmeSection(t *testing.T, readme, title string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "\n## "+title+"\n")
	if !ok {
		t.Fatalf("README.md has no section %q", title)
	}
	section, _, _ := strings.Cut(rest, "\n## ")
	return section
}

// TestREADMETwoCommandsInCI checks that .ci/run runs the README's two
// commands, in the steps named after them, exactly as the README writes
// them (with -count=1 added to go test, so that CI never reads a cached
// result).
func TestREADMETwoCommandsInCI(t *testing.T) {
	root := testcorpus.RepoRoot(t)
	readme := readFile(t, filepath.Join(root, "README.md"))
	section := readmeSection(t, readme, "The two commands")
	_, block, ok := strings.Cut(section, "```sh\n")
	if !ok {
		t.Fatal(`README.md: "The two commands" has no sh block`)
	}
	block, _, _ = strings.Cut(block, "```")
	var commands []string
	for _, line := range strings.Split(block, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			commands = append(commands, line)
		}
	}
	if len(commands) != 2 {
		t.Fatalf(`README.md: "The two commands" has %d commands, want 2: %q`, len(commands), commands)
	}
	ci := strings.Split(readFile(t, filepath.Join(root, ".ci", "run")), "\n")
	for i, step := range []string{"README main job: ", "README test suite: "} {
		want := `step "` + step + commands[i] + `"`
		found := false
		for j, line := range ci {
			if !strings.HasPrefix(line, `step "`+step) {
				continue
			}
			found = true
			if line != want {
				t.Errorf(".ci/run: %s\nwant:   %s", line, want)
			}
			run := ""
			for _, next := range ci[j+1:] {
				if run = strings.TrimSpace(next); run != "" {
					break
				}
			}
			if wantRun := strings.ReplaceAll(commands[i], "go test ", "go test -count=1 "); run != wantRun {
				t.Errorf(".ci/run: step %q runs\n\t%s\nwant\n\t%s", step, run, wantRun)
			}
		}
		if !found {
			t.Errorf(".ci/run has no step %q", want)
		}
	}
}

// TestREADMEFrontDoor keeps the README a front door: the Quickstart on
// its first screen, short, and free of this repository's offline setup.
func TestREADMEFrontDoor(t *testing.T) {
	root := testcorpus.RepoRoot(t)
	readme := readFile(t, filepath.Join(root, "README.md"))
	lines := strings.Split(readme, "\n")
	if n := len(lines); n > 250 {
		t.Errorf("README.md has %d lines, more than 250: move details to docs/ or bench/README.md", n)
	}
	at := -1
	for i, line := range lines {
		if line == "## Quickstart" {
			at = i + 1
			break
		}
	}
	if at < 0 || at > 60 {
		t.Errorf("README.md: the Quickstart heading is at line %d, want it within the first 60 lines", at)
	}
	if strings.Contains(readme, "../shared") {
		t.Error("README.md mentions ../shared: this repository's offline setup belongs in CONTRIBUTING.md")
	}
}
