package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// A service config in DNS (grpc proposal A2): a TXT record at
// "_grpc_config.<host>" whose RFC 1464 attribute grpc_config holds a JSON
// list of choices, each with selection criteria (clientLanguage,
// percentage, clientHostname) and a serviceConfig; the first choice that
// matches the client is its config. DNSResolver looks it up beside the
// addresses, unless the ClientConn ignores its resolver's configs
// (WithDisableResolverServiceConfig).

const (
	// grpcConfigPrefix is prepended to the host to name its TXT record.
	grpcConfigPrefix = "_grpc_config."
	// grpcConfigAttr starts the TXT record that holds the choices.
	grpcConfigAttr = "grpc_config="
	// maxDNSConfig bounds the TXT record read: a DNS response holds at
	// most 64 KiB.
	maxDNSConfig = 64 << 10
	// dnsTXTTimeout bounds the TXT lookup, which the addresses wait for.
	dnsTXTTimeout = 2 * time.Second
)

// serviceConfigChoice is one choice of A2's list.
type serviceConfigChoice struct {
	ClientLanguage []string        `json:"clientLanguage"`
	Percentage     json.RawMessage `json:"percentage"`
	ClientHostname []string        `json:"clientHostname"`
	ServiceConfig  json.RawMessage `json:"serviceConfig"`
}

// dnsConfigSelector picks this client's choice: roll, in [1, 100], decides
// percentages (drawn once per resolver, so a client stays on its side of a
// canary), hostname is asked for only when a choice names hosts.
type dnsConfigSelector struct {
	roll     int
	hostname func() string
}

func newDNSConfigSelector() *dnsConfigSelector {
	var name string
	var looked bool
	return &dnsConfigSelector{roll: rand.IntN(100) + 1, hostname: func() string {
		if !looked {
			name, _ = os.Hostname()
			looked = true
		}
		return name
	}}
}

// choose returns the service config of the first choice in the
// grpc_config record among records that matches the client; "" when
// there is no such record or no choice matches. A record that is not a
// list of valid choices is an error: "the entire service config will be
// discarded" (A2), and the ClientConn keeps the config it has.
func (s *dnsConfigSelector) choose(records []string) (string, error) {
	var list string
	found := false
	for _, r := range records {
		if v, ok := strings.CutPrefix(r, grpcConfigAttr); ok {
			list, found = v, true
			break
		}
	}
	if !found {
		return "", nil
	}
	if len(list) > maxDNSConfig {
		return "", fmt.Errorf("dns service config: %d bytes, more than %d", len(list), maxDNSConfig)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(list), &raw); err != nil {
		return "", fmt.Errorf("dns service config: %w", err)
	}
	chosen := ""
	for i, r := range raw {
		var c serviceConfigChoice
		dec := json.NewDecoder(bytes.NewReader(r))
		// "If any unexpected field name is present in this object, the
		// entire choice is considered invalid."
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return "", fmt.Errorf("dns service config: choice %d: %w", i, err)
		}
		match, err := s.matches(c)
		if err != nil {
			return "", fmt.Errorf("dns service config: choice %d: %w", i, err)
		}
		if match && chosen == "" {
			chosen = string(c.ServiceConfig)
		}
	}
	return chosen, nil
}

// matches reports whether c is for this client, and checks its fields.
func (s *dnsConfigSelector) matches(c serviceConfigChoice) (bool, error) {
	if sc := bytes.TrimSpace(c.ServiceConfig); len(sc) == 0 || sc[0] != '{' {
		return false, errors.New("serviceConfig is not an object")
	}
	match := true
	if len(c.ClientLanguage) > 0 && !containsFold(c.ClientLanguage, "go") {
		match = false
	}
	if len(c.Percentage) > 0 && string(c.Percentage) != "null" {
		// "If present, the number must match the regular expression
		// ^0|[0-9]|[1-9][0-9]|100$."
		p, err := strconv.Atoi(string(c.Percentage))
		if err != nil || p < 0 || p > 100 || strconv.Itoa(p) != string(c.Percentage) {
			return false, fmt.Errorf("percentage %s is not an integer from 0 to 100", c.Percentage)
		}
		if s.roll > p {
			match = false
		}
	}
	if len(c.ClientHostname) > 0 && match {
		// Exact and case sensitive.
		host := s.hostname()
		found := false
		for _, h := range c.ClientHostname {
			found = found || h == host
		}
		match = found
	}
	return match, nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// dnsConfig reports the service config of host's TXT record to r when it
// changed. A record that is not there means no config (the dial option's
// applies); a failed lookup (or one slower than dnsTXTTimeout) or an
// invalid record keeps the config the ClientConn has. A localhost name
// has no TXT record: "Name resolution APIs and libraries SHOULD ... return
// ... negative responses for all other query types" (RFC 6761, 6.3), so
// it is not asked for.
type dnsConfig struct {
	lookupTXT func(ctx context.Context, name string) ([]string, error)
	sel       *dnsConfigSelector
	last      string
	reported  bool
}

func (d *dnsConfig) update(ctx context.Context, host string, r *Resolution) {
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, dnsTXTTimeout)
	defer cancel()
	records, err := d.lookupTXT(ctx, grpcConfigPrefix+host)
	var dnsErr *net.DNSError
	switch {
	case err == nil:
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		records = nil
	default:
		return
	}
	js, err := d.sel.choose(records)
	if err != nil || (d.reported && js == d.last) {
		return
	}
	if r.UpdateServiceConfig(js) == nil {
		d.last, d.reported = js, true
	}
}
