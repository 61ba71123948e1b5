package flow

import (
	"sort"
	"strings"
)

// edges lists the nodes n can move to.
func (n *Node) edges() []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	add(n.Next)
	add(n.Default)
	add(n.OnFail)
	if n.Type == TypeGoto {
		add(n.Target)
	}
	for _, k := range sortedKeys(n.On) {
		add(n.On[k])
	}
	for _, k := range sortedKeys(n.Choices) {
		add(n.Choices[k])
	}
	for _, c := range n.Cases {
		add(c.Next)
	}
	return out
}

// waits reports whether a node listens to the caller (so a loop through it
// cannot spin without the caller's input).
func (n *Node) waits() bool { return n.Type == TypeAsk || n.Type == TypeMenu }

// checkGraph reports dangling references, unknown intents, unreachable
// nodes (warning) and loops that never wait for the caller.
func (p *parser) checkGraph(f *Flow, st *flowState) {
	for _, r := range st.refs {
		if st.nodeKeys[r.to] == nil {
			p.errAt(r.at, "node %q: %s refers to unknown node %q", r.from, r.field, r.to)
		}
	}
	reported := map[[2]string]bool{}
	for _, u := range st.intentUses {
		if key := [2]string{u.from, u.to}; !knownIntent(f, u.to) && !reported[key] {
			reported[key] = true
			p.errAt(u.at, "node %q uses unknown intent %q (declare it under intents:)", u.from, u.to)
		}
	}
	if f.Nodes[f.Start] == nil {
		return
	}
	// reachability
	seen := map[string]bool{f.Start: true}
	queue := []string{f.Start}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		n := f.Nodes[id]
		if n == nil {
			continue
		}
		for _, to := range n.edges() {
			if !seen[to] {
				seen[to] = true
				queue = append(queue, to)
			}
		}
	}
	for id, k := range st.nodeKeys {
		if !seen[id] {
			p.warnAt(k, "node %q is unreachable from start", id)
		}
	}
	// loops among nodes that never wait (Tarjan's SCC)
	ids := make([]string, 0, len(f.Nodes))
	for id, n := range f.Nodes {
		if !n.waits() {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	counter := 0
	var strong func(id string)
	strong = func(id string) {
		index[id], low[id] = counter, counter
		counter++
		stack = append(stack, id)
		onStack[id] = true
		for _, to := range f.Nodes[id].edges() {
			tn := f.Nodes[to]
			if tn == nil || tn.waits() {
				continue
			}
			if _, done := index[to]; !done {
				strong(to)
				low[id] = min(low[id], low[to])
			} else if onStack[to] {
				low[id] = min(low[id], index[to])
			}
		}
		if low[id] != index[id] {
			return
		}
		var comp []string
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[top] = false
			comp = append(comp, top)
			if top == id {
				break
			}
		}
		selfLoop := false
		for _, to := range f.Nodes[id].edges() {
			if to == id {
				selfLoop = true
			}
		}
		if len(comp) > 1 || selfLoop {
			sort.Slice(comp, func(i, j int) bool { return f.Nodes[comp[i]].Line < f.Nodes[comp[j]].Line })
			first := comp[0]
			what := "nodes " + strings.Join(quoteAll(comp), ", ") + " form a loop"
			if len(comp) == 1 {
				what = "node " + quoteAll(comp)[0] + " leads to itself"
			}
			p.errAt(st.nodeKeys[first], "%s with no ask or menu: the call would never wait for the caller", what)
		}
	}
	for _, id := range ids {
		if _, done := index[id]; !done {
			strong(id)
		}
	}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = `"` + v + `"`
	}
	return out
}
