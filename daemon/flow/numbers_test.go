package flow

import (
	"errors"
	"testing"
)

func TestSayNumbers(t *testing.T) {
	cases := []struct {
		fn       func(lang, s string) (string, error)
		fnName   string
		lang, in string
		want     string
	}{
		{SayNumber, "number", LangZH, "0", "零"},
		{SayNumber, "number", LangZH, "2", "二"},
		{SayNumber, "number", LangZH, "10", "十"},
		{SayNumber, "number", LangZH, "15", "十五"},
		{SayNumber, "number", LangZH, "20", "二十"},
		{SayNumber, "number", LangZH, "110", "一百一十"},
		{SayNumber, "number", LangZH, "1010", "一千零一十"},
		{SayNumber, "number", LangZH, "1234", "一千二百三十四"},
		{SayNumber, "number", LangZH, "2000", "两千"},
		{SayNumber, "number", LangZH, "200", "两百"},
		{SayNumber, "number", LangZH, "10086", "一万零八十六"},
		{SayNumber, "number", LangZH, "100000", "十万"},
		{SayNumber, "number", LangZH, "20000", "两万"},
		{SayNumber, "number", LangZH, "100000001", "一亿零一"},
		{SayNumber, "number", LangZH, "100001000", "一亿零一千"},
		{SayNumber, "number", LangZH, "3.14", "三点一四"},
		{SayNumber, "number", LangZH, "-7", "负七"},
		{SayNumber, "number", LangZH, "1,234", "一千二百三十四"},
		{SayNumber, "number", LangEN, "0", "zero"},
		{SayNumber, "number", LangEN, "13", "thirteen"},
		{SayNumber, "number", LangEN, "1234", "one thousand two hundred thirty-four"},
		{SayNumber, "number", LangEN, "1000001", "one million one"},
		{SayNumber, "number", LangEN, "3.05", "three point zero five"},
		{SayNumber, "number", LangEN, "-40", "minus forty"},
		{SayMoney, "money", LangZH, "¥1234.50", "一千二百三十四元五角"},
		{SayMoney, "money", LangZH, "1234.56", "一千二百三十四元五角六分"},
		{SayMoney, "money", LangZH, "3.05", "三元零五分"},
		{SayMoney, "money", LangZH, "0.50", "五角"},
		{SayMoney, "money", LangZH, "2", "两元"},
		{SayMoney, "money", LangZH, "2000.00", "两千元"},
		{SayMoney, "money", LangZH, "0", "零元"},
		{SayMoney, "money", LangZH, "10086元", "一万零八十六元"},
		{SayMoney, "money", LangZH, "0.02", "两分"},
		{SayMoney, "money", LangEN, "$1,234.50", "one thousand two hundred thirty-four dollars and fifty cents"},
		{SayMoney, "money", LangEN, "1", "one dollar"},
		{SayMoney, "money", LangEN, "1.01", "one dollar and one cent"},
		{SayMoney, "money", LangEN, "0.99", "ninety-nine cents"},
		{SayMoney, "money", LangEN, "0", "zero dollars"},
		{SayDate, "date", LangZH, "2026-11-21", "二零二六年十一月二十一日"},
		{SayDate, "date", LangZH, "2026年2月2日", "二零二六年二月二日"},
		{SayDate, "date", LangZH, "20260101", "二零二六年一月一日"},
		{SayDate, "date", LangEN, "2026-11-21", "November twenty-first, twenty twenty-six"},
		{SayDate, "date", LangEN, "2026/03/02", "March second, twenty twenty-six"},
		{SayDate, "date", LangEN, "2005-07-03", "July third, two thousand five"},
		{SayDate, "date", LangEN, "1999-12-31", "December thirty-first, nineteen ninety-nine"},
		{SayDate, "date", LangEN, "1905-01-12", "January twelfth, nineteen oh five"},
		{SayDate, "date", LangEN, "2000-02-20", "February twentieth, two thousand"},
		{SayDate, "date", LangEN, "2010-04-11", "April eleventh, twenty ten"},
		{SayTime, "time", LangZH, "14:30", "下午两点三十分"},
		{SayTime, "time", LangZH, "09:05", "上午九点零五分"},
		{SayTime, "time", LangZH, "8:00", "早上八点整"},
		{SayTime, "time", LangZH, "12:15", "中午十二点十五分"},
		{SayTime, "time", LangZH, "20:00", "晚上八点整"},
		{SayTime, "time", LangZH, "02:00", "凌晨两点整"},
		{SayTime, "time", LangZH, "0:10", "凌晨零点十分"},
		{SayTime, "time", LangEN, "14:30", "two thirty in the afternoon"},
		{SayTime, "time", LangEN, "09:05", "nine oh five in the morning"},
		{SayTime, "time", LangEN, "12:00", "twelve noon"},
		{SayTime, "time", LangEN, "00:00", "twelve midnight"},
		{SayTime, "time", LangEN, "19:00", "seven o'clock in the evening"},
		{SayTime, "time", LangEN, "23:45", "eleven forty-five at night"},
		{SayDigits, "digits", LangZH, "0012", "零零一二"},
		{SayDigits, "digits", LangEN, "+86 10-086", "eight six one zero zero eight six"},
	}
	for _, c := range cases {
		got, err := c.fn(c.lang, c.in)
		if err != nil || got != c.want {
			t.Errorf("%s(%s, %q) = %q, %v; want %q", c.fnName, c.lang, c.in, got, err, c.want)
		}
	}
}

func TestSayNumbersRejects(t *testing.T) {
	cases := []struct {
		fn       func(lang, s string) (string, error)
		lang, in string
	}{
		{SayNumber, LangZH, ""},
		{SayNumber, LangZH, "abc"},
		{SayNumber, LangZH, "1.2.3"},
		{SayNumber, LangZH, "12."},
		{SayNumber, LangEN, "99999999999999999"},
		{SayNumber, "fr", "1"},
		{SayMoney, LangZH, "12.345"},
		{SayMoney, LangEN, "lots"},
		{SayDate, LangZH, "2026-02-30"},
		{SayDate, LangEN, "21/11/2026"},
		{SayDate, LangEN, "tomorrow"},
		{SayTime, LangZH, "24:00"},
		{SayTime, LangEN, "9"},
		{SayTime, LangEN, "10:60"},
		{SayDigits, LangZH, "12a"},
	}
	for _, c := range cases {
		got, err := c.fn(c.lang, c.in)
		if !errors.Is(err, ErrBadValue) {
			t.Errorf("(%s, %q) = %q, %v; want ErrBadValue", c.lang, c.in, got, err)
		}
	}
}
