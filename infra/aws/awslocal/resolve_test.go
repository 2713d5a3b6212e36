package awslocal

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

const miniTemplate = `
Parameters:
  Url: {Type: String, Default: ""}
Conditions:
  HasUrl: !Not [!Equals [!Ref Url, ""]]
Globals:
  Function:
    Environment:
      Variables:
        TABLE: !Ref Table
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Q: {Type: AWS::SQS::Queue}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          URL: !If [HasUrl, !Ref Url, !Sub "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"]
          ARN: !GetAtt Q.Arn
          JOINED: !Join [",", [a, !Ref Q]]
          LITERAL: 7
          GONE: !If [HasUrl, x, !Ref AWS::NoValue]
  Api: {Type: AWS::ApiGatewayV2::Api}
`

func TestResolverEnv(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(miniTemplate))
	require.NoError(t, err)
	conds, err := conditions([]byte(miniTemplate))
	require.NoError(t, err)
	newResolver := func(url string) *resolver {
		return &resolver{
			params: map[string]string{"Url": url}, conditions: conds,
			refs:  map[string]string{"AWS::StackName": "s", "Table": "s-Table", "Q": "http://q", "Api": "api1"},
			attrs: map[string]map[string]string{"Q": {"Arn": "arn:q"}},
		}
	}
	tests := []struct {
		name, url string
		want      map[string]string
	}{
		{"condition false", "", map[string]string{"TABLE": "s-Table", "URL": "https://api1.execute-api.us-east-1.amazonaws.com",
			"ARN": "arn:q", "JOINED": "a,http://q", "LITERAL": "7"}},
		{"condition true", "http://x", map[string]string{"TABLE": "s-Table", "URL": "http://x",
			"ARN": "arn:q", "JOINED": "a,http://q", "LITERAL": "7", "GONE": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := newResolver(tt.url).env(tpl, "Fn")
			require.NoError(t, err)
			assert.Equal(t, tt.want, env)
		})
	}
	_, err = newResolver("").str(map[string]any{"Fn::Select": []any{0, []any{"a"}}})
	assert.ErrorIs(t, err, ErrUnsupported, "an unknown intrinsic fails loudly")
}

func TestRouteMatch(t *testing.T) {
	rts := []Route{}
	for _, k := range []string{"ANY /v1/{proxy+}", "POST /publish/{name}", "GET /v1/exact", "$default"} {
		r, err := newRoute(k, k, 0)
		require.NoError(t, err)
		rts = append(rts, r)
	}
	tests := []struct {
		method, path, want string
		params             map[string]string
	}{
		{"GET", "/v1/tenants/t/streams", "ANY /v1/{proxy+}", map[string]string{"proxy": "tenants/t/streams"}},
		{"GET", "/v1/exact", "GET /v1/exact", map[string]string{}},
		{"POST", "/publish/orders", "POST /publish/{name}", map[string]string{"name": "orders"}},
		{"GET", "/publish/orders", "$default", nil},
		{"POST", "/publish/a/b", "$default", nil},
		{"GET", "/v1", "$default", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			best, score := "", -1
			var params map[string]string
			for _, r := range rts {
				if p, s, ok := r.match(tt.method, tt.path); ok && s > score {
					best, score, params = r.Key, s, p
				}
			}
			assert.Equal(t, tt.want, best)
			assert.Equal(t, tt.params, params)
		})
	}
}
