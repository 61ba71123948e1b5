package daemon

// Configuration reload on SIGHUP (Options.Reload): what changes live, what
// needs a restart, and the atomically swapped snapshot calls read.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"

	"callbox/daemon/config"
	"callbox/daemon/sdnotify"
	"callbox/daemon/sipua"
	"callbox/daemon/speech"
)

// ErrReloadRefused wraps every reason a reload left the running
// configuration in force: the file does not load or validate, the trunks
// are refused by the SIP layer, or the new inbound prompt cannot be
// synthesised.
var ErrReloadRefused = errors.New("reload refused")

// reloadable lists the keys a reload applies live. Whole sections are named
// by their YAML key; everything else needs a restart and keeps its running
// value (reported in the log as "needs restart").
var reloadable = map[string]bool{
	"trunks":    true, // (*sipua.UA).UpdateTrunks
	"calls":     true, // new calls; drain_timeout applies to the next drain
	"inbound":   true, // the prompt is re-synthesised for the next caller
	"tts.voice": true, // new calls
	"tts.rate":  true, // new calls
}

// liveConfig is the configuration calls read through callManager.limits():
// swapped whole by a reload, never mutated.
type liveConfig struct {
	p atomic.Pointer[config.Config]
}

// limits returns the configuration in force for a new call: the reloadable
// keys (calls.*, trunks, inbound.*, tts.voice/rate) as last reloaded, the
// others as at start-up.
func (m *callManager) limits() *config.Config {
	if c := m.live.p.Load(); c != nil {
		return c
	}
	return m.cfg
}

// reloader applies SIGHUP reloads. It is used by Run's goroutine only.
type reloader struct {
	log     *slog.Logger
	notify  *sdnotify.Notifier
	calls   *callManager
	ua      *sipua.UA
	tts     speech.Synthesizer
	inbound *atomic.Pointer[[]int16] // the rendered inbound prompt
	cur     *config.Config           // in force
}

// restartKeys lists the keys whose value differs between cur and next but
// that a reload cannot apply, in configuration order.
func restartKeys(cur, next *config.Config) []string {
	var keys []string
	cv, nv := reflect.ValueOf(cur).Elem(), reflect.ValueOf(next).Elem()
	ct := cv.Type()
	for i := 0; i < ct.NumField(); i++ {
		name := yamlName(ct.Field(i))
		if name == "" || reloadable[name] {
			continue
		}
		cf, nf := cv.Field(i), nv.Field(i)
		if cf.Kind() != reflect.Struct {
			if !reflect.DeepEqual(cf.Interface(), nf.Interface()) {
				keys = append(keys, name)
			}
			continue
		}
		for j := 0; j < cf.NumField(); j++ {
			sub := name + "." + yamlName(cf.Type().Field(j))
			if reloadable[sub] {
				continue
			}
			if !reflect.DeepEqual(cf.Field(j).Interface(), nf.Field(j).Interface()) {
				keys = append(keys, sub)
			}
		}
	}
	return keys
}

// effective returns next with every key that needs a restart set back to
// its running value from cur: the configuration actually in force.
func effective(cur, next *config.Config) *config.Config {
	eff := *next
	cv, ev := reflect.ValueOf(cur).Elem(), reflect.ValueOf(&eff).Elem()
	ct := cv.Type()
	for i := 0; i < ct.NumField(); i++ {
		name := yamlName(ct.Field(i))
		if name == "" || reloadable[name] {
			continue
		}
		if cv.Field(i).Kind() != reflect.Struct {
			ev.Field(i).Set(cv.Field(i))
			continue
		}
		for j := 0; j < cv.Field(i).NumField(); j++ {
			if !reloadable[name+"."+yamlName(cv.Field(i).Type().Field(j))] {
				ev.Field(i).Field(j).Set(cv.Field(i).Field(j))
			}
		}
	}
	eff.Path = cur.Path
	return &eff
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	if i := strings.IndexByte(tag, ','); i >= 0 {
		tag = tag[:i]
	}
	if tag == "" {
		return strings.ToLower(f.Name)
	}
	return tag
}

// reload re-reads the configuration file and applies it. On any error the
// running configuration stays in force, one log line says why, and the
// systemd status says "reload refused: ...".
func (r *reloader) reload(ctx context.Context) error {
	path := r.cur.Path
	refuse := func(err error) error {
		err = fmt.Errorf("%w: %w", ErrReloadRefused, err)
		msg := strings.ReplaceAll(err.Error(), "\n", "; ")
		r.log.Error("configuration reload refused; the running configuration stays", "file", path, "err", msg)
		r.notify.Status(msg)
		return err
	}
	if path == "" {
		return refuse(errors.New("the configuration was not loaded from a file"))
	}
	next, err := config.Load(path)
	if err != nil {
		return refuse(err)
	}
	restart := restartKeys(r.cur, next)
	eff := effective(r.cur, next)

	// Prepare what can fail before anything changes.
	var prompt []int16
	if promptChanged(r.cur, eff) {
		prompt, err = r.tts.Synthesize(ctx, eff.Inbound.Prompt, inboundVoice(eff))
		if err != nil {
			return refuse(fmt.Errorf("inbound.prompt: synthesis failed: %w", err))
		}
	}

	r.notify.Reloading()
	r.notify.Status("reloading " + path)
	ch, err := r.ua.UpdateTrunks(ctx, sipConfig(eff).Trunks)
	var ce *sipua.ConfigError
	if errors.As(err, &ce) || errors.Is(err, sipua.ErrClosed) {
		r.notify.Ready()
		return refuse(fmt.Errorf("trunks: %w", err))
	}
	if err != nil { // unregistering a removed trunk failed: the new set is in force anyway
		r.log.Warn("removed trunk not unregistered cleanly", "err", err)
	}
	if prompt != nil {
		r.inbound.Store(&prompt)
	}
	r.calls.live.p.Store(eff)
	r.cur = eff
	for _, k := range restart {
		r.log.Warn("configuration key changed but needs restart; keeping the running value", "file", path, "key", k)
	}
	r.log.Info("configuration reloaded", "file", path,
		"trunks_added", ch.Added, "trunks_removed", ch.Removed, "trunks_changed", ch.Changed,
		"needs_restart", restart)
	r.notify.Ready()
	status := "ready; configuration reloaded"
	if len(restart) > 0 {
		status += "; needs restart for " + strings.Join(restart, ", ")
	}
	r.notify.Status(status)
	return nil
}

// inboundVoice is the voice of the inbound prompt.
func inboundVoice(cfg *config.Config) speech.Voice {
	v := cfg.Inbound.Voice
	if v == "" {
		v = cfg.TTS.Voice
	}
	return speech.Voice{Name: v, Rate: cfg.TTS.Rate}
}

func promptChanged(a, b *config.Config) bool {
	return a.Inbound.Prompt != b.Inbound.Prompt || inboundVoice(a) != inboundVoice(b)
}
