package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/configroot/configroot/modules/history"
	"github.com/configroot/configroot/modules/publish"
	"github.com/spf13/cobra"
)

const historyHelp = `History shows the commits of the cluster repo that changed one resource of config-root/:
the point of one canonical file per resource. It reads the repo with go-git and changes
nothing.

The resource is named as kubectl names it: KIND/NAME (or KIND NAME), with -n for a
namespaced resource. KIND is the kind in any case (Deployment, deployment), its plural
(deployments), a kubectl short name (deploy, svc, cm, sa, ns, crd, sts, ds, ing, ...) or a
Jenkins X file suffix (crb, rb, mutwebhookcfg, valwebhookcfg, ksvc), optionally followed by
.GROUP to pick an API group (deployments.apps, certificate.cert-manager.io). A bare kind
matches every API group; a short name, its own.

The resource is found by its identity (group, kind, namespace, name), read from the files
where its name can be in config-root, so it is followed when its release is renamed (a new
release folder), when it changes scope (between cluster/resources and namespaces), and
across a removal and a re-addition. Without -n, a name found in several namespaces is
ambiguous: the matches are listed and nothing else is printed. A name found nowhere gives
one line with the closest resources.

The walk starts at --ref and follows first parents, newest first (git log --first-parent):
the line of commits configroot publish makes. For each commit that added, modified, moved
or removed the resource it prints the commit, its author date, the change, the subject and
the Source-Commit trailer publish writes (the source repo's commit that was rendered).

Repository: by default the git repo holding --source, read in place, with the folder
<source>/config-root; --repo takes another local repository (a work tree or a bare one; the
folder is then --path, default config-root) or an http(s) URL, cloned into memory (the
token is read from the environment variable --token-env names, as configroot publish
does, and never printed). Only committed states are read: uncommitted changes are not.

Output (stdout): a line naming the resource and its file, then one line per change
(plus the previous path of a move), newest first; with -p, each change's unified diff.
--format json prints one JSON object per change and line instead:
  {"commit", "date", "author": {"name", "email"}, "subject", "sourceCommit", "change",
   "path", "previousPath", "resource": {"apiVersion", "kind", "namespace", "name"}, "patch"}
change is added, modified, moved or removed; paths are relative to the repo root.

Exit status: 0 when the resource was found (even with no change in the range), 1 when it
is unknown or ambiguous, or the repo cannot be read.`

func newHistoryCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		namespace, source, repo, ref, path string
		format, since, until               string
		tokenEnv, username                 string
		maxCount                           int
		patch, verbose                     bool
		timeout                            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "history KIND/NAME [-n NAMESPACE] [flags]",
		Short: "Show the commits that changed one resource of config-root/",
		Long:  historyHelp,
		Example: `  # the commits that changed the cert-manager Deployment
  configroot history Deployment/cert-manager -n cert-manager

  # the same, with the YAML diff of each
  configroot history deploy/cert-manager -n cert-manager -p

  # a cluster-scoped resource over the last 30 days, as JSON lines
  configroot history ClusterRole/cert-manager-edit --since 30d --format json

  # straight from the remote cluster repo, with a token from $GITHUB_TOKEN
  configroot history cm/webapp-config -n apps --repo https://github.com/org/cluster.git --token-env GITHUB_TOKEN`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			resource := args[0]
			if len(args) == 2 {
				resource = args[0] + "/" + args[1]
			}
			if format != "text" && format != "json" {
				return fmt.Errorf("--format %q: want text or json", format)
			}
			q, err := history.ParseQuery(resource, namespace)
			if err != nil {
				return err
			}
			o := history.Options{Repo: repo, Ref: ref, Path: path, MaxCount: maxCount, Patch: patch, Timeout: timeout}
			now := time.Now()
			if o.Since, err = parseWhen(since, now); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if o.Until, err = parseWhen(until, now); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			if repo == "" {
				if o.Repo, o.Path, err = history.LocalDefaults(source); err != nil {
					return err
				}
				if path != "" {
					o.Path = path
				}
			}
			if verbose {
				o.Progress = stderr
			}
			var token string
			if tokenEnv != "" {
				if token = os.Getenv(tokenEnv); token == "" {
					return fmt.Errorf("--token-env: the environment variable %s is empty or unset", tokenEnv)
				}
				o.Credentials = &publish.Credentials{Username: username, Token: publish.Secret(token)}
			}
			res, err := history.Log(cmd.Context(), q, o)
			switch {
			case errors.Is(err, publish.ErrAuthentication) && tokenEnv == "":
				return fmt.Errorf("%w (pass the token's environment variable with --token-env)", err)
			case err != nil:
				return publish.MaskError(err, token)
			}
			if format == "json" {
				enc := json.NewEncoder(stdout)
				for _, c := range res.Changes {
					if err := enc.Encode(c); err != nil {
						return err
					}
				}
			} else {
				printHistory(stdout, res)
			}
			fmt.Fprintf(stderr, "%s: %d changes in %d commits walked from %s of %s\n",
				res.Resource, len(res.Changes), res.Commits, short(res.Start), publish.Redact(o.Repo))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&namespace, "namespace", "n", "", "the namespace of a namespaced resource (needed when its name is in several namespaces)")
	f.StringVar(&source, "source", ".", "the cluster repo checkout whose git repository and config-root are read (when --repo is not set)")
	f.StringVar(&repo, "repo", "", "another repository to read: a local path (work tree or bare) or an http(s) URL, cloned into memory (default: the git repo holding --source)")
	f.StringVar(&path, "path", "", "the config-root folder in the repository (default: <source>/config-root relative to its repo, or config-root with --repo)")
	f.StringVar(&ref, "ref", "", "the branch, tag or commit the walk starts from (default HEAD; for a URL, a branch, default the remote's HEAD)")
	f.BoolVarP(&patch, "patch", "p", false, "show the unified diff of the resource's file in each change")
	f.StringVar(&format, "format", "text", "the output format: text, or json (one object per change and line)")
	f.StringVar(&since, "since", "", "only commits committed since then: a duration ago (30d, 2w, 12h, 90m) or a date (2026-01-31, RFC 3339)")
	f.StringVar(&until, "until", "", "only commits committed until then (same forms as --since)")
	f.IntVar(&maxCount, "max-count", 0, "show at most this many changes, newest first (0: all)")
	f.StringVar(&tokenEnv, "token-env", "", "the environment variable holding the HTTPS token for --repo URL (default: no credentials)")
	f.StringVar(&username, "username", publish.DefaultUsername, "the basic-auth user sent with the token")
	f.DurationVar(&timeout, "timeout", publish.DefaultTimeout, "the time limit of the clone of --repo URL")
	f.BoolVarP(&verbose, "verbose", "v", false, "stream git's clone progress to stderr")
	return cmd
}

// printHistory prints a history as text: the resource and its file, then one line per
// change (and the previous path of a move), then each patch when there is one.
func printHistory(w io.Writer, res history.Result) {
	where := res.Path
	if !res.Exists {
		where += " (removed; last seen there)"
	}
	fmt.Fprintf(w, "%s  %s\n", res.Resource, where)
	if len(res.Changes) == 0 {
		return
	}
	fmt.Fprintln(w)
	author := 0
	for _, c := range res.Changes {
		author = max(author, len(c.Author.Name))
	}
	for _, c := range res.Changes {
		line := fmt.Sprintf("%s  %s  %-*s  %-8s  %s", short(c.Commit), c.Date.Format("2006-01-02 15:04 -0700"), author, c.Author.Name, c.Action, c.Subject)
		if c.SourceCommit != "" {
			line += "  [source " + short(c.SourceCommit) + "]"
		}
		fmt.Fprintln(w, line)
		if c.PreviousPath != "" {
			fmt.Fprintf(w, "%*s  from %s\n", 12, "", c.PreviousPath)
		}
		if c.Patch != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimRight(c.Patch, "\n"))
			fmt.Fprintln(w)
		}
	}
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// parseWhen parses --since and --until: "" is unset; a number with a unit d (days) or w
// (weeks), or a Go duration (12h, 90m), is that long before now; else a date (2006-01-02,
// local time) or an RFC 3339 time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if n := len(s) - 1; n > 0 && (s[n] == 'd' || s[n] == 'w') {
		if v, err := strconv.Atoi(s[:n]); err == nil && v >= 0 {
			days := v
			if s[n] == 'w' {
				days *= 7
			}
			return now.AddDate(0, 0, -days), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want a duration ago (30d, 2w, 12h) or a date (2026-01-31, 2026-01-31T12:00:00Z)", s)
}
