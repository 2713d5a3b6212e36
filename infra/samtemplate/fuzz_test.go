package samtemplate_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

// FuzzParse: any template text parses or fails with an error; every
// function of a parsed template can be read, and its settings are read or
// refused with an error, never a panic; Settings, which parses only the
// function and its queues, reads the same settings.
func FuzzParse(f *testing.F) {
	f.Add(herokuevents.Template)
	f.Add([]byte("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: !Ref T\n      Environment: {Variables: {A: !Sub '${X}', B: !If [C, 1, 2]}}\n      Events: {Q: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn, BatchSize: x}}}\n"))
	f.Add([]byte("Resources: []"))
	f.Add([]byte("- a\n- b"))
	f.Add([]byte("Resources:\n  Q: {Type: AWS::SQS::Queue, Condition: C, Properties: {VisibilityTimeout: -1}}\n"))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, src []byte) {
		tpl, err := samtemplate.Parse(src)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		for _, id := range tpl.Functions() {
			fn, err := tpl.Function(id)
			if err != nil {
				require.NotEmpty(t, err.Error())
				continue
			}
			require.Equal(t, id, fn.ID)
			s, err := tpl.Settings(id)
			if err != nil {
				require.NotEmpty(t, err.Error())
				continue
			}
			// the init path, which parses only the function and its queues
			fast, err := samtemplate.Settings(src, id)
			require.NoError(t, err)
			require.Equal(t, s, fast)
		}
		_, err = tpl.Function("NoSuchFunction")
		require.True(t, errors.Is(err, samtemplate.ErrNotFound) || err != nil)
	})
}
