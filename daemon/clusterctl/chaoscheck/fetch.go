package chaoscheck

// This file reads the cluster's side through the box's HTTP API.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"callbox/cluster"
)

// FetchAttempts reads every attempt of a campaign from a box's API
// (GET /v1/campaigns/{id}/attempts); api is the base URL, e.g.
// "http://10.0.0.5:8080". token, when set, is sent as a bearer token.
func FetchAttempts(ctx context.Context, c *http.Client, api, token, campaignID string) ([]cluster.Attempt, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/v1/campaigns/"+url.PathEscape(campaignID)+"/attempts", nil)
	if err != nil {
		return nil, fmt.Errorf("chaoscheck: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("chaoscheck: attempts of %s: %w", campaignID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("chaoscheck: attempts of %s: %w", campaignID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("chaoscheck: attempts of %s: HTTP %d: %.200s", campaignID, resp.StatusCode, body)
	}
	var atts []cluster.Attempt
	if err := json.Unmarshal(body, &atts); err != nil {
		return nil, fmt.Errorf("chaoscheck: attempts of %s: %w", campaignID, err)
	}
	return atts, nil
}
