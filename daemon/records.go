package daemon

import (
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
)

// recordView turns a stored call record into its API form.
func recordView(r cluster.CallRecord) apiv1.CallRecord {
	out := apiv1.CallRecord{
		ID: r.ID, SIPCallID: r.SIPCallID, Box: r.Box, Trunk: r.Trunk, Number: r.Number,
		Direction: r.Direction, CallerID: r.CallerID, CampaignID: r.CampaignID,
		InviteAt: r.InviteAt, RingAt: optTime(r.RingAt), EarlyMediaAt: optTime(r.EarlyMediaAt),
		AnswerAt: optTime(r.AnswerAt), EndAt: optTime(r.EndAt),
		Disposition: r.Disposition, SIPCode: r.SIPCode, SIPReason: r.SIPReason, HangupBy: r.HangupBy,
		DTMF: r.DTMF, Codec: r.Codec, Prompt: r.Prompt,
		RTP: apiv1.RTP{
			PacketsSent: r.RTP.PacketsSent, PacketsReceived: r.RTP.PacketsReceived, PacketsLost: r.RTP.PacketsLost,
			LossFraction: r.RTP.LossFraction, JitterMs: r.RTP.JitterMs,
			RemoteLossFraction: r.RTP.RemoteLossFraction, RemoteJitterMs: r.RTP.RemoteJitterMs,
		},
		RecordingPath: r.RecordingPath, RecordingBox: r.RecordingBox, Error: r.Error,
		ContactID: r.ContactID, AttemptID: r.AttemptID, Variant: r.Variant,
		AMD: r.AMD, AMDDecisionMs: r.AMDDecisionMs, AMDBeep: r.AMDBeep, Outcome: r.Outcome, Intent: r.Intent,
	}
	dialogueView(r, &out)
	for _, p := range r.RecordingPauses { // recpause.go
		out.RecordingPauses = append(out.RecordingPauses, apiv1.RecordingPause{Start: p.Start, End: optTime(p.End),
			OffsetMs: p.OffsetMs, EndOffsetMs: p.EndOffsetMs, By: p.By})
	}
	return out
}

// optTime is nil for the zero time, so JSON leaves it out.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
