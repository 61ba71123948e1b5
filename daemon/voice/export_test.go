package voice

// cfgTimingsForTest returns every timing, including the turn still
// waiting for its reply.
func (c *CallIO) cfgTimingsForTest() []TurnTiming {
	out := c.Timings()
	if c.lastTurn != nil {
		out = append(out, *c.lastTurn)
	}
	return out
}
