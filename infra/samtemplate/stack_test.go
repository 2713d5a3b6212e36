package samtemplate

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/queue"
)

const sample = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Level:
    Type: String
    Default: WARN
  Secret:
    Type: String
    NoEcho: true
Conditions:
  Yes: !Equals [a, a]
Globals:
  Function:
    Runtime: provided.al2023
    Architectures: [arm64]
    Handler: bootstrap
    Timeout: 20
    Environment:
      Variables:
        LOG_LEVEL: !Ref Level
        TABLE: !Ref Table
        OVERRIDDEN: global
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Q:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: "180"
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt DLQ.Arn
        maxReceiveCount: 7
  DLQ:
    Type: AWS::SQS::Queue
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/consumer/
      Timeout: 30
      MemorySize: 512
      Environment:
        Variables:
          QUEUE_URL: !Ref Q
          DLQ_ARN: !GetAtt DLQ.Arn
          NAME: !Sub "${AWS::StackName}-x"
          PASSWORD: !Ref Secret
          OVERRIDDEN: local
          PORT: 8080
          PICK: !If [Yes, a, b]
      Events:
        Feed:
          Type: SQS
          Properties:
            Queue: !GetAtt Q.Arn
            BatchSize: 5
            MaximumBatchingWindowInSeconds: 2
            ScalingConfig:
              MaximumConcurrency: 4
  Defaults:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/defaults/
      Events:
        Feed:
          Type: SQS
          Properties:
            Queue:
              Fn::GetAtt: [Q, Arn]
            ScalingConfig:
              MaximumConcurrency: 2
  Web:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/web/
      Events:
        Get:
          Type: HttpApi
`

func TestParseShortTags(t *testing.T) {
	tpl, err := Parse([]byte(sample))
	require.NoError(t, err)
	env := tpl.Resources["Consumer"].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
	assert.Equal(t, map[string]any{"Ref": "Q"}, env["QUEUE_URL"])
	assert.Equal(t, map[string]any{"Fn::GetAtt": []any{"DLQ", "Arn"}}, env["DLQ_ARN"])
	assert.Equal(t, map[string]any{"Fn::Sub": "${AWS::StackName}-x"}, env["NAME"])
	assert.Equal(t, map[string]any{"Fn::If": []any{"Yes", "a", "b"}}, env["PICK"])
	assert.Equal(t, 8080, env["PORT"])
	assert.Equal(t, []string{"Consumer", "Defaults", "Web"}, tpl.Functions())
	assert.Equal(t, "WARN", tpl.Parameters["Level"]["Default"])
}

func TestFunction(t *testing.T) {
	tpl, err := Parse([]byte(sample))
	require.NoError(t, err)
	f, err := tpl.Function("Consumer")
	require.NoError(t, err)
	assert.Equal(t, Function{
		ID: "Consumer", CodeURI: "functions/consumer/", Handler: "bootstrap", Runtime: "provided.al2023",
		Architecture: "arm64", Timeout: 30 * time.Second, MemoryMB: 512,
		Env: map[string]string{"LOG_LEVEL": "WARN", "OVERRIDDEN": "local", "PORT": "8080"},
		Unresolved: map[string]string{
			"TABLE": "Ref Table", "QUEUE_URL": "Ref Q", "DLQ_ARN": "GetAtt DLQ.Arn",
			"NAME": "Sub ${AWS::StackName}-x", "PASSWORD": "Ref Secret", "PICK": "If",
		},
		Queue: "Q", Queues: []string{"Q"},
	}, f)

	web, err := tpl.Function("Web")
	require.NoError(t, err)
	assert.Equal(t, 20*time.Second, web.Timeout, "Globals timeout")
	assert.Equal(t, 128, web.MemoryMB, "Lambda default memory")
	assert.Empty(t, web.Queue)

	_, err = tpl.Function("Table")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = tpl.Function("Nope")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestSettings(t *testing.T) {
	tests := []struct {
		name     string
		template string
		function string
		want     queue.Settings
		wantErr  error
	}{
		{
			name: "all numbers from event and queue", template: sample, function: "Consumer",
			want: queue.Settings{BatchSize: 5, BatchWindow: 2 * time.Second, VisibilityTimeout: 180 * time.Second, MaxReceives: 7, Concurrency: 4},
		},
		{
			name: "lambda defaults for batch size and window", template: sample, function: "Defaults",
			want: queue.Settings{BatchSize: 10, VisibilityTimeout: 180 * time.Second, MaxReceives: 7, Concurrency: 2},
		},
		{name: "no SQS event", template: sample, function: "Web", wantErr: ErrInvalid},
		{name: "unknown function", template: sample, function: "Nope", wantErr: ErrNotFound},
		{
			name: "no redrive policy", function: "Consumer", wantErr: ErrInvalid,
			template: strings.Replace(sample, "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt DLQ.Arn\n        maxReceiveCount: 7\n", "", 1),
		},
		{
			name: "no maximum concurrency", function: "Consumer", wantErr: ErrInvalid,
			template: strings.Replace(sample, "            ScalingConfig:\n              MaximumConcurrency: 4\n", "", 1),
		},
		{
			name: "queue is not a GetAtt Arn", function: "Consumer", wantErr: ErrInvalid,
			template: strings.Replace(sample, "Queue: !GetAtt Q.Arn", "Queue: !Ref Q", 1),
		},
		{
			name: "queue missing", function: "Consumer", wantErr: ErrNotFound,
			template: strings.Replace(sample, "Queue: !GetAtt Q.Arn", "Queue: !GetAtt Missing.Arn", 1),
		},
		{
			name: "batch size out of range", function: "Consumer", wantErr: ErrInvalid,
			template: strings.Replace(sample, "BatchSize: 5", "BatchSize: 50", 1),
		},
		{
			name: "non-numeric visibility", function: "Consumer", wantErr: ErrInvalid,
			template: strings.Replace(sample, `VisibilityTimeout: "180"`, "VisibilityTimeout: soon", 1),
		},
		{name: "not YAML", template: "Resources: [", function: "Consumer"},
		{name: "no resources", template: "Parameters: {}", function: "Consumer", wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Settings([]byte(tt.template), tt.function)
			if tt.wantErr != nil || tt.want == (queue.Settings{}) {
				require.Error(t, err)
				if tt.wantErr != nil {
					assert.ErrorIs(t, err, tt.wantErr)
				}
				assert.Panics(t, func() { MustSettings([]byte(tt.template), tt.function) })
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want, MustSettings([]byte(tt.template), tt.function))
		})
	}
}
