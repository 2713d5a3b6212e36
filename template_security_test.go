package herokuevents_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

// The security settings of template.yaml (issue 11, item 8), read in the
// long form of samtemplate: {"Ref": x}, {"Fn::Sub": s}, {"Fn::If": [...]}.

func parsedTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Parse(herokuevents.Template)
	require.NoError(t, err)
	return tpl
}

// refOf returns x of {"Ref": x}, "" for anything else.
func refOf(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["Ref"].(string)
	return s
}

// refsIn returns every Ref in v, however deep.
func refsIn(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		if r := refOf(x); r != "" {
			return []string{r}
		}
		for _, e := range x {
			out = append(out, refsIn(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, refsIn(e)...)
		}
	case string:
		// ${Name} in a Sub string
		for part := range strings.SplitSeq(x, "${") {
			if name, _, ok := strings.Cut(part, "}"); ok {
				out = append(out, name)
			}
		}
	}
	return out
}

// secretName matches the names of settings that hold secrets.
var secretName = regexp.MustCompile(`PASSWORD|SECRET|SALT|PRIVATE_KEY|TOKEN`)

func envVars(fn samtemplate.Resource) map[string]any {
	env, _ := fn.Properties["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	return vars
}

// TestTemplateSecretsNotInEnvironment: no function's environment carries a
// secret value (a NoEcho parameter); each NoEcho parameter is stored in a
// Secrets Manager secret, encrypted with a customer managed key; a
// function gets the secret's ARN in NAME_ARN and may read that secret.
func TestTemplateSecretsNotInEnvironment(t *testing.T) {
	tpl := parsedTemplate(t)
	noEcho := map[string]bool{}
	for name, p := range tpl.Parameters {
		if b, _ := p["NoEcho"].(bool); b {
			noEcho[name] = true
		}
	}
	require.Contains(t, noEcho, "OperatorPassword")
	require.Contains(t, noEcho, "SalesforceClientSecret")

	stored := map[string]string{} // parameter → secret resource
	for id, r := range tpl.Resources {
		if r.Type != "AWS::SecretsManager::Secret" {
			continue
		}
		p := refOf(r.Properties["SecretString"])
		require.True(t, noEcho[p], "secret %s holds the NoEcho parameter %q", id, p)
		stored[p] = id
		assert.NotEmpty(t, refsIn(r.Properties["KmsKeyId"]), "secret %s is encrypted with a customer managed key", id)
	}
	for p := range noEcho {
		assert.Contains(t, stored, p, "NoEcho parameter %s is kept in a Secrets Manager secret", p)
	}
	for _, id := range tpl.Functions() {
		t.Run(id, func(t *testing.T) {
			fn := tpl.Resources[id]
			readable := map[string]bool{}
			for _, pol := range fn.Properties["Policies"].([]any) {
				for _, ref := range refsIn(pol) {
					readable[ref] = true
				}
			}
			for name, v := range envVars(fn) {
				assert.False(t, secretName.MatchString(name) && !strings.HasSuffix(name, "_ARN"),
					"%s of %s names a secret: hand the function the ARN of a Secrets Manager secret (NAME_ARN)", name, id)
				for _, ref := range refsIn(v) {
					assert.False(t, noEcho[ref], "%s=%v hands the secret parameter %s to %s in plain text", name, v, ref, id)
					if tpl.Resources[ref].Type == "AWS::SecretsManager::Secret" {
						assert.True(t, strings.HasSuffix(name, "_ARN"), "%s carries a secret's ARN: NAME_ARN (smsecret)", name)
						assert.True(t, readable[ref], "%s may read %s (AWSSecretsManagerGetSecretValuePolicy)", id, ref)
					}
				}
			}
		})
	}
	api := envVars(tpl.Resources["ApiFunction"])
	assert.Equal(t, "OperatorPasswordSecret", refOf(api["OPERATOR_PASSWORD_ARN"]))
	assert.NotContains(t, api, "OPERATOR_PASSWORD")
	for _, id := range []string{"ApiFunction", "DeliverFunction", "SfsubscribeFunction"} {
		assert.Contains(t, envVars(tpl.Resources[id]), "SALESFORCE_CLIENT_SECRET_ARN", id)
		assert.NotContains(t, envVars(tpl.Resources[id]), "SALESFORCE_CLIENT_SECRET", id)
	}
}

// TestTemplateLogGroups: every function writes to a log group the stack
// creates (/aws/lambda/<function>) with the LogRetentionDays retention and
// a KMS key; the HTTP API stage logs every request to one.
func TestTemplateLogGroups(t *testing.T) {
	tpl := parsedTemplate(t)
	groups := map[string]samtemplate.Resource{} // LogGroupName Sub → resource
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Logs::LogGroup" {
			continue
		}
		name, _ := r.Properties["LogGroupName"].(map[string]any)["Fn::Sub"].(string)
		require.NotEmpty(t, name, "log group %s has a name", id)
		groups[name] = r
		assert.Equal(t, "LogRetentionDays", refOf(r.Properties["RetentionInDays"]), "log group %s keeps logs LogRetentionDays", id)
		assert.NotEmpty(t, r.Properties["KmsKeyId"], "log group %s is encrypted with a KMS key", id)
	}
	days := tpl.Parameters["LogRetentionDays"]
	require.NotNil(t, days)
	assert.Contains(t, days["AllowedValues"], days["Default"], "the default is a retention CloudWatch accepts")
	for _, id := range tpl.Functions() {
		_, ok := groups["/aws/lambda/${"+id+"}"]
		assert.True(t, ok, "%s has a log group /aws/lambda/${%s}", id, id)
	}
	stage := tpl.Resources["HttpApiStage"]
	als, _ := stage.Properties["AccessLogSettings"].(map[string]any)
	require.NotNil(t, als, "the HTTP API logs its requests")
	dest, _ := als["DestinationArn"].(map[string]any)["Fn::GetAtt"].([]any)
	require.Len(t, dest, 2)
	assert.Equal(t, "AWS::Logs::LogGroup", tpl.Resources[dest[0].(string)].Type)
	var format map[string]string
	require.NoError(t, json.Unmarshal([]byte(als["Format"].(string)), &format), "the access log format is one JSON object")
	for _, k := range []string{"requestId", "ip", "routeKey", "status"} {
		assert.Contains(t, format, k)
	}
	for k, v := range format {
		assert.NotContains(t, strings.ToLower(v), "authorizer", "%s: no credentials in access logs", k)
		assert.NotContains(t, v, "querystring", "%s: query strings (OAuth codes) are not logged", k)
	}
}

// TestTemplateReservedConcurrency: the HTTP functions reserve (and are
// capped at) a configurable concurrency.
func TestTemplateReservedConcurrency(t *testing.T) {
	tpl := parsedTemplate(t)
	for id, param := range map[string]string{"ApiFunction": "ApiReservedConcurrency", "IngestFunction": "IngestReservedConcurrency"} {
		t.Run(id, func(t *testing.T) {
			assert.Equal(t, param, refOf(tpl.Resources[id].Properties["ReservedConcurrentExecutions"]))
			p := tpl.Parameters[param]
			require.NotNil(t, p)
			assert.Equal(t, "Number", p["Type"])
			def, _ := p["Default"].(int)
			assert.GreaterOrEqual(t, def, 10, "a sane default")
			assert.Equal(t, 1, p["MinValue"])
		})
	}
}

// TestTemplateCheckov runs the pinned checkov on template.yaml with the
// skips of .checkov.yaml: nothing fails, and every listed skip is a check
// that fails without it (the list holds no stale entry).
func TestTemplateCheckov(t *testing.T) {
	checkov, err := filepath.Abs(filepath.Join(".venv", "bin", "checkov"))
	require.NoError(t, err)
	_, err = os.Stat(checkov)
	require.NoError(t, err, "checkov is missing: run scripts/setup-tools")
	raw, err := os.ReadFile(".checkov.yaml")
	require.NoError(t, err)
	var cfg struct {
		SkipCheck []string `yaml:"skip-check"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	require.NotEmpty(t, cfg.SkipCheck)
	template, err := filepath.Abs("template.yaml")
	require.NoError(t, err)

	type report struct {
		Results struct {
			FailedChecks []struct {
				CheckID  string `json:"check_id"`
				Resource string `json:"resource"`
			} `json:"failed_checks"`
		} `json:"results"`
		Summary struct {
			Passed int `json:"passed"`
			Failed int `json:"failed"`
		} `json:"summary"`
	}
	run := func(t *testing.T, dir string, args ...string) (report, []byte, error) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), checkov, append([]string{"-f", template, "-o", "json"}, args...)...)
		cmd.Dir = dir // checkov also reads a .checkov.yaml of its working directory
		cmd.Env = append(os.Environ(), "BC_SKIP_MAPPING=TRUE")
		out, err := cmd.Output()
		var rep report
		require.NoError(t, json.Unmarshal(out, &rep), "checkov output:\n%s", out)
		return rep, out, err
	}

	t.Run("clean with the skips", func(t *testing.T) {
		wd, err := os.Getwd()
		require.NoError(t, err)
		rep, out, err := run(t, t.TempDir(), "--config-file", filepath.Join(wd, ".checkov.yaml"))
		require.NoError(t, err, "checkov failed checks:\n%s", out)
		assert.Empty(t, rep.Results.FailedChecks)
		assert.Positive(t, rep.Summary.Passed)
	})
	t.Run("no stale skip", func(t *testing.T) {
		rep, _, _ := run(t, t.TempDir(), "--framework", "cloudformation", "--skip-download")
		failing := map[string]bool{}
		for _, f := range rep.Results.FailedChecks {
			failing[f.CheckID] = true
		}
		for _, id := range cfg.SkipCheck {
			assert.True(t, failing[id], "%s is skipped in .checkov.yaml but template.yaml passes it: remove the entry", id)
		}
		for id := range failing {
			assert.True(t, slices.Contains(cfg.SkipCheck, id), "%s fails", id)
		}
	})
}
