/* A module linked alone (every object of its library, --whole-archive) with only the
 * layers it may use: when it links, the module reaches nothing above it. The program
 * itself only reports that in TAP. */
#include <stdio.h>

int main(void)
{
	printf("1..1\nok 1 - %s links with only the layers below it\n", LAYER_NAME);
	return 0;
}
