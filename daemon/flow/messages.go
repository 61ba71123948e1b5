package flow

// Default spoken texts per language, used when the flow file leaves them out.
var defaultTexts = map[string]map[string]string{
	LangZH: {
		"disclosure":    "您好，这是{{org}}的智能语音助手来电。",
		"goodbye":       "感谢您的接听，再见。",
		"opt_out_text":  "好的，我们以后不会再给您打电话了，打扰您了，再见。",
		"transfer_text": "正在为您转接人工客服，请稍候。",
		"resume_text":   "抱歉，刚才通话中断了，我们接着刚才的内容继续。",
	},
	LangEN: {
		"disclosure":    "This call is from an automated assistant of {{org}}.",
		"goodbye":       "Thank you for your time. Goodbye.",
		"opt_out_text":  "Understood. We will not call you again. Goodbye.",
		"transfer_text": "Let me connect you to a member of our team. Please hold.",
		"resume_text":   "Sorry, we were cut off. Let's continue where we left off.",
	},
}
