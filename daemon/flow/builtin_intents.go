package flow

// Built-in intents, always on in every flow. A flow may add phrases to them
// by declaring an intent with the same name.
const (
	IntentOptOut = "opt_out"
	IntentHuman  = "human"
	IntentYes    = "yes"
	IntentNo     = "no"
)

// builtinPriority breaks score ties: opt-out first, then human.
var builtinPriority = map[string]int{IntentOptOut: 4, IntentHuman: 3, IntentNo: 2, IntentYes: 1}

func builtinIntents() []IntentDef {
	return []IntentDef{
		{
			Name: IntentOptOut,
			Phrases: map[string][]string{
				LangZH: {"不要再打了", "别再打了", "不要打了", "别打了", "不要再给我打电话", "别再给我打电话", "别给我打电话",
					"以后不要打", "以后别打", "不要再打电话", "别再打电话", "把我的号码删掉", "把我删了", "拉黑"},
				LangEN: {"stop calling me", "stop calling", "don't call me again", "do not call me again", "don't call me",
					"do not call me", "don't call again", "remove me from your list", "take me off your list",
					"remove my number", "unsubscribe", "never call me"},
			},
		},
		{
			Name: IntentHuman,
			Phrases: map[string][]string{
				LangZH: {"转人工", "人工客服", "人工服务", "找人工", "真人", "人工"},
				LangEN: {"agent", "human", "operator", "representative", "real person", "speak to a person", "talk to a person"},
			},
		},
		{
			Name: IntentYes,
			Phrases: map[string][]string{
				LangZH: {"是", "是的", "好的", "好", "对", "对的", "可以", "行", "没问题", "嗯", "确认", "确定", "同意"},
				LangEN: {"yes", "yeah", "yep", "sure", "ok", "okay", "correct", "right", "of course", "confirm", "that's right"},
			},
		},
		{
			Name: IntentNo,
			Phrases: map[string][]string{
				LangZH: {"不", "不是", "不要", "不用", "不行", "不可以", "没有", "否", "不对", "不需要", "算了"},
				LangEN: {"no", "nope", "nah", "not really", "no thanks", "no thank you", "don't", "negative"},
			},
		},
	}
}
