Console.Out.Write("bench: nothing measured yet\n");
return 0;
