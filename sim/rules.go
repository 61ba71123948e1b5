package sim

// This file holds persona selection by dialled number.

import (
	"fmt"
	"strings"
)

// Rule maps dialled numbers starting with Prefix (compared with the
// Request-URI user part) to a persona. The longest matching prefix wins; an
// empty prefix matches every number.
type Rule struct {
	Prefix  string `json:"prefix"`
	Persona string `json:"persona"`
}

// ParseRule parses "PREFIX=PERSONA" (the CLI's --rule). The prefix may be
// empty ("=busy" matches every number); the persona may not.
func ParseRule(s string) (Rule, error) {
	prefix, persona, ok := strings.Cut(s, "=")
	if !ok {
		return Rule{}, fmt.Errorf("%w %q: want PREFIX=PERSONA", ErrRule, s)
	}
	prefix, persona = strings.TrimSpace(prefix), strings.TrimSpace(persona)
	if persona == "" {
		return Rule{}, fmt.Errorf("%w %q: persona name is empty", ErrRule, s)
	}
	if strings.ContainsAny(persona, " \t\r\n=") {
		return Rule{}, fmt.Errorf("%w %q: persona name %q contains space or '='", ErrRule, s, persona)
	}
	if err := checkPrefix(prefix); err != nil {
		return Rule{}, fmt.Errorf("%w %q: %v", ErrRule, s, err)
	}
	return Rule{Prefix: prefix, Persona: persona}, nil
}

// checkPrefix accepts what can appear in a SIP URI user part of a phone
// number: an optional leading '+', then digits, '*' and '#'.
func checkPrefix(p string) error {
	for i, r := range p {
		switch {
		case r == '+' && i == 0, r >= '0' && r <= '9', r == '*', r == '#':
		default:
			return fmt.Errorf("prefix %q: character %q at %d (want an optional '+' then digits, '*' or '#')", p, r, i)
		}
	}
	return nil
}

// choosePersona returns the persona name for a dialled number and how it
// was chosen ("rule", "scheme" or "default"): the longest matching Rule,
// else the SchemePrefix+NN scheme over SchemeOrder (only when every scheme
// persona exists in personas), else def.
func choosePersona(number string, rules []Rule, personas map[string]Persona, def string) (name, how string) {
	best := -1
	for i, r := range rules {
		if strings.HasPrefix(number, r.Prefix) && (best < 0 || len(r.Prefix) > len(rules[best].Prefix)) {
			best = i
		}
	}
	if best >= 0 {
		return rules[best].Persona, "rule"
	}
	if nn, ok := schemeIndex(number); ok {
		n := SchemeOrder[nn%len(SchemeOrder)]
		if _, ok := personas[n]; ok {
			return n, "scheme"
		}
	}
	return def, "default"
}

// schemeIndex returns NN for numbers of the form [+]8613800000NN or
// [+]86138000000NN (the latter a valid Chinese mobile number, which a
// campaign import accepts).
func schemeIndex(number string) (int, bool) {
	rest, ok := strings.CutPrefix(number, SchemePrefix)
	if !ok {
		rest, ok = strings.CutPrefix(number, SchemePrefix[1:])
	}
	if ok && len(rest) == 3 && rest[0] == '0' {
		rest = rest[1:] // +86138000000NN: the same scheme as a valid 11-digit mobile number
	}
	if !ok || len(rest) != 2 || rest[0] < '0' || rest[0] > '9' || rest[1] < '0' || rest[1] > '9' {
		return 0, false
	}
	return int(rest[0]-'0')*10 + int(rest[1]-'0'), true
}

// MaskNumber hides all but the last four characters of a phone number for
// logs: "+8613812345678" becomes "**********5678".
func MaskNumber(n string) string {
	r := []rune(n)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}
