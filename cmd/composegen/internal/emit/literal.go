package emit

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"time"

	"github.com/dave/jennifer/jen"
)

// literal renders Go values as composite literals: the plan is emitted this
// way. Zero struct fields are omitted; nil slices and maps are omitted while
// empty non-nil ones are kept ([]string{} clears an image's entrypoint, nil
// does not); map keys are sorted; pointers to structs become &T{...} and
// pointers to scalars ptr(v) with the generic helper ptr, which the file must
// then declare (usedPtr).
type literal struct {
	usedPtr bool
}

var durationType = reflect.TypeOf(time.Duration(0))

// typeCode returns the Go type expression of t.
func typeCode(t reflect.Type) (*jen.Statement, error) {
	if t.Name() != "" {
		if t.PkgPath() != "" {
			return jen.Qual(t.PkgPath(), t.Name()), nil
		}
		return jen.Id(t.Name()), nil
	}
	switch t.Kind() {
	case reflect.Slice:
		e, err := typeCode(t.Elem())
		if err != nil {
			return nil, err
		}
		return jen.Index().Add(e), nil
	case reflect.Map:
		k, err := typeCode(t.Key())
		if err != nil {
			return nil, err
		}
		e, err := typeCode(t.Elem())
		if err != nil {
			return nil, err
		}
		return jen.Map(k).Add(e), nil
	case reflect.Pointer:
		e, err := typeCode(t.Elem())
		if err != nil {
			return nil, err
		}
		return jen.Op("*").Add(e), nil
	}
	return nil, fmt.Errorf("emit: cannot write a literal of type %s", t)
}

// value renders v. With elide, a composite literal omits its type (an element
// of a slice or map literal); field is the struct field holding v, "" if
// none (it selects octal for file modes).
func (l *literal) value(v reflect.Value, elide bool, field string) (*jen.Statement, error) {
	t := v.Type()
	if t == durationType {
		return durationCode(time.Duration(v.Int())), nil
	}
	switch t.Kind() {
	case reflect.Struct:
		return l.structValue(v, elide)
	case reflect.Slice:
		return l.sliceValue(v, elide)
	case reflect.Map:
		return l.mapValue(v, elide)
	case reflect.Pointer:
		if v.IsNil() {
			return jen.Nil(), nil
		}
		if t.Elem().Kind() == reflect.Struct {
			s, err := l.structValue(v.Elem(), elide)
			if err != nil || elide {
				return s, err
			}
			return jen.Op("&").Add(s), nil
		}
		return l.pointerToScalar(v.Elem(), field)
	case reflect.String:
		return jen.Lit(v.String()), nil
	case reflect.Bool:
		return jen.Lit(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return jen.Id(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if field == "Mode" {
			return jen.Id("0o" + strconv.FormatUint(v.Uint(), 8)), nil
		}
		return jen.Id(strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		return jen.Id(strconv.FormatFloat(v.Float(), 'g', -1, t.Bits())), nil
	}
	return nil, fmt.Errorf("emit: cannot write a literal of type %s", t)
}

// pointerToScalar renders ptr(v), with an explicit type argument unless the
// literal's default type is v's type.
func (l *literal) pointerToScalar(v reflect.Value, field string) (*jen.Statement, error) {
	l.usedPtr = true
	lit, err := l.value(v, false, field)
	if err != nil {
		return nil, err
	}
	t := v.Type()
	switch {
	case t == durationType && v.Int() != 0,
		t == reflect.TypeOf(false), t == reflect.TypeOf(""), t == reflect.TypeOf(0):
		return jen.Id("composePtr").Call(lit), nil
	}
	tc, err := typeCode(t)
	if err != nil {
		return nil, err
	}
	return jen.Id("composePtr").Types(tc).Call(lit), nil
}

func (l *literal) structValue(v reflect.Value, elide bool) (*jen.Statement, error) {
	t := v.Type()
	var items []jen.Code
	multi, hasSlice := false, false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fv := v.Field(i)
		if !f.IsExported() || fv.IsZero() {
			continue
		}
		code, err := l.value(fv, false, f.Name)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		if isComposite(fv) {
			multi = true
		}
		if fv.Kind() == reflect.Slice && fv.Len() > 0 {
			hasSlice = true
		}
		items = append(items, jen.Id(f.Name).Op(":").Add(code))
	}
	// Small structs of scalars stay on one line ({Name: "A", Value: "1"}).
	if len(items) > 4 || hasSlice && len(items) > 2 {
		multi = true
	}
	return l.composite(t, elide, multi, items)
}

func (l *literal) sliceValue(v reflect.Value, elide bool) (*jen.Statement, error) {
	items := make([]jen.Code, v.Len())
	multi := false
	for i := range items {
		e := v.Index(i)
		code, err := l.value(e, true, "")
		if err != nil {
			return nil, err
		}
		if isComposite(e) {
			multi = true
		}
		items[i] = code
	}
	return l.composite(v.Type(), elide, multi, items)
}

func (l *literal) mapValue(v reflect.Value, elide bool) (*jen.Statement, error) {
	keys := v.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return lessValue(keys[i], keys[j]) })
	items := make([]jen.Code, len(keys))
	for i, k := range keys {
		kc, err := l.value(k, true, "")
		if err != nil {
			return nil, err
		}
		vc, err := l.value(v.MapIndex(k), true, "")
		if err != nil {
			return nil, err
		}
		items[i] = kc.Op(":").Add(vc)
	}
	return l.composite(v.Type(), elide, len(items) > 0, items)
}

func (l *literal) composite(t reflect.Type, elide, multi bool, items []jen.Code) (*jen.Statement, error) {
	body := jen.Custom(jen.Options{Open: "{", Close: "}", Separator: ",", Multi: multi && len(items) > 0}, items...)
	if elide {
		return body, nil
	}
	tc, err := typeCode(t)
	if err != nil {
		return nil, err
	}
	return tc.Add(body), nil
}

// isComposite reports whether v renders as a (non-empty) composite literal,
// which puts its parent on several lines.
func isComposite(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Struct:
		return v.Type() != durationType
	case reflect.Map:
		return v.Len() > 0
	case reflect.Slice:
		return v.Len() > 0 && isCompositeType(v.Type().Elem())
	case reflect.Pointer:
		return !v.IsNil() && v.Elem().Kind() == reflect.Struct
	}
	return false
}

func isCompositeType(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice:
		return true
	case reflect.Pointer:
		return t.Elem().Kind() == reflect.Struct
	}
	return false
}

func lessValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.String:
		return a.String() < b.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() < b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() < b.Uint()
	case reflect.Bool:
		return !a.Bool() && b.Bool()
	case reflect.Float32, reflect.Float64:
		return a.Float() < b.Float()
	}
	return fmt.Sprint(a.Interface()) < fmt.Sprint(b.Interface())
}

// durationCode renders d as N * time.Unit with the largest unit that divides
// it: 5 * time.Second, 1500 * time.Millisecond, time.Minute.
func durationCode(d time.Duration) *jen.Statement {
	if d == 0 {
		return jen.Qual("time", "Duration").Call(jen.Lit(0))
	}
	units := []struct {
		d    time.Duration
		name string
	}{
		{time.Hour, "Hour"}, {time.Minute, "Minute"}, {time.Second, "Second"},
		{time.Millisecond, "Millisecond"}, {time.Microsecond, "Microsecond"},
	}
	for _, u := range units {
		if d%u.d == 0 {
			n := d / u.d
			if n == 1 {
				return jen.Qual("time", u.name)
			}
			return jen.Id(strconv.FormatInt(int64(n), 10)).Op("*").Qual("time", u.name)
		}
	}
	return jen.Qual("time", "Duration").Call(jen.Id(strconv.FormatInt(int64(d), 10)))
}
